// kmem: the Linux kernel's memory allocators over real memory. boot() gives a machine whose methods are
// the kernel's functions; the GFP constants carry 5.4's values.
import { type BootOptions, Kernel } from "./kernel/kernel.ts";

export { hex16, NULL, PAGE_OFFSET, PAGE_SHIFT, PAGE_SIZE, ZERO_SIZE_PTR } from "./arch/x86/layout.ts";
export { EINVAL, ENOMEM, FsError, KernelBug, KernelError, KernelOops, KernelPanic } from "./kernel/errors.ts";
export { type BootOptions, Kernel } from "./kernel/kernel.ts";
export type { InsmodResult, KernelModule, ParamSpec } from "./kernel/module.ts";
export { KERN } from "./kernel/printk.ts";
export * from "./mm/gfp.ts";

/** Boot a simulated machine (see BootOptions; defaults: 1G, 1 node, 2 CPUs, profile 5.4). */
export function boot(opts: BootOptions = {}): Kernel {
  return new Kernel(opts);
}
