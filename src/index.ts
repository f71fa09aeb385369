// kmem: the Linux kernel's memory allocators over real memory. boot() gives a machine whose methods are
// the kernel's functions; the GFP constants carry 5.4's values.
import { type BootOptions, Kernel } from "./kernel/kernel.ts";

export {
  hex16,
  MODULES_END,
  MODULES_VADDR,
  NULL,
  PAGE_OFFSET,
  PAGE_SHIFT,
  PAGE_SIZE,
  VMALLOC_END,
  VMALLOC_START,
  ZERO_SIZE_PTR,
} from "./arch/x86/layout.ts";
export { PAGE_KERNEL, PAGE_KERNEL_RO } from "./arch/x86/pgtable.ts";
export { EINVAL, ENOMEM, FsError, KernelBug, KernelError, KernelOops, KernelPanic } from "./kernel/errors.ts";
export { type BootOptions, Kernel } from "./kernel/kernel.ts";
export type { InsmodResult, KernelModule, ParamSpec } from "./kernel/module.ts";
export { KERN } from "./kernel/printk.ts";
export { DUMP_PREFIX_ADDRESS, DUMP_PREFIX_NONE, DUMP_PREFIX_OFFSET } from "./lib/hexdump.ts";
export * from "./mm/gfp.ts";
export type { Ctor as KmemCacheCtor } from "./mm/slub/cache.ts";
export {
  SLAB_ACCOUNT,
  SLAB_CACHE_DMA,
  SLAB_CACHE_DMA32,
  SLAB_CONSISTENCY_CHECKS,
  SLAB_HWCACHE_ALIGN,
  SLAB_MEM_SPREAD,
  SLAB_NOLEAKTRACE,
  SLAB_PANIC,
  SLAB_POISON,
  SLAB_RECLAIM_ACCOUNT,
  SLAB_RED_ZONE,
  SLAB_STORE_USER,
  SLAB_TEMPORARY,
  SLAB_TRACE,
  SLAB_TYPESAFE_BY_RCU,
} from "./mm/slub/flags.ts";
export { KMALLOC_MAX_CACHE_SIZE, KMALLOC_MAX_SIZE } from "./mm/slub/slab_common.ts";
export { VM_ALLOC, VM_IOREMAP, VM_MAP, VM_NO_GUARD, VM_USERMAP } from "./mm/vmalloc/vmap_area.ts";

/** Boot a simulated machine (see BootOptions; defaults: 1G, 1 node, 2 CPUs, profile 5.4). */
export function boot(opts: BootOptions = {}): Kernel {
  return new Kernel(opts);
}
