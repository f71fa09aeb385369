// The files k.cat() reads and k.echo() writes. Unknown paths fail like open(2) with ENOENT.
import { FsError } from "../../kernel/errors.ts";
import type { Kernel } from "../../kernel/kernel.ts";
import { sysfsSlabRead, sysfsSlabWrite } from "../sysfs/slab.ts";
import { buddyinfo } from "./buddyinfo.ts";
import { extfragIndexFile, unusableIndexFile } from "./extfrag.ts";
import { kmemLayout } from "./kmem_layout.ts";
import { meminfo } from "./meminfo.ts";
import { pagetypeinfo } from "./pagetypeinfo.ts";
import { slabinfo } from "./slabinfo.ts";
import { sysctlRead, sysctlWrite } from "./sysctl.ts";
import { vmallocinfo } from "./vmallocinfo.ts";
import { vmstat } from "./vmstat.ts";
import { zoneinfo } from "./zoneinfo.ts";

const FILES: Readonly<Record<string, (k: Kernel) => string>> = {
  "/proc/buddyinfo": buddyinfo,
  "/proc/pagetypeinfo": pagetypeinfo,
  "/proc/zoneinfo": zoneinfo,
  "/proc/meminfo": meminfo,
  "/proc/vmstat": vmstat,
  "/proc/vmallocinfo": vmallocinfo,
  "/proc/slabinfo": slabinfo,
  // kmem-specific (not in Linux): the book's ch7 show_kernel_seg map of the kernel address space.
  "/proc/kmem_layout": kmemLayout,
  "/sys/kernel/debug/extfrag/unusable_index": unusableIndexFile,
  "/sys/kernel/debug/extfrag/extfrag_index": extfragIndexFile,
};

export function procCat(k: Kernel, path: string): string {
  const f = FILES[path];
  if (f) return f(k);
  const v = sysctlRead(k, path) ?? sysfsSlabRead(k, path);
  if (v !== undefined) return v;
  throw new FsError("ENOENT", `cat: ${path}: No such file or directory`);
}

export function procEcho(k: Kernel, value: string, path: string): void {
  if (FILES[path]) throw new FsError("EACCES", `echo: write error: ${path}: Permission denied`);
  if (!sysctlWrite(k, path, value) && !sysfsSlabWrite(k, path, value))
    throw new FsError("ENOENT", `echo: ${path}: No such file or directory`);
}
