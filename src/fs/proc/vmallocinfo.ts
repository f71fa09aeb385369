// /proc/vmallocinfo (mm/vmalloc.c s_show, 5.4): one line per live area in address order — range
// including the guard page, size, caller, pages=, the kind of mapping, whether the page array is itself
// vmalloc'ed, pages per node — then the lazily freed ranges still waiting for a purge, newest first.
// Addresses print as %pK (hashed unless kernel.kptr_restrict says otherwise).
import { isVmallocAddr, PAGE_SIZE } from "../../arch/x86/layout.ts";
import type { Kernel } from "../../kernel/kernel.ts";
import { formatFrame } from "../../kernel/stacktrace.ts";
import { vsprintf } from "../../kernel/vsprintf.ts";
import { VM_ALLOC, VM_IOREMAP, VM_MAP, VM_USERMAP } from "../../mm/vmalloc/vmap_area.ts";

export function vmallocinfo(k: Kernel): string {
  const a = k.vm.areas;
  const ctx = k.core.printfCtx;
  let out = "";
  a.each(a.busyRoot, (n) => {
    const start = a.start[n]! * PAGE_SIZE;
    const size = (a.end[n]! - a.start[n]!) * PAGE_SIZE;
    out += vsprintf("0x%pK-0x%pK %7ld", [start, start + size, size], ctx);
    const caller = k.core.stacks.caller(a.caller[n]!);
    if (caller) out += ` ${formatFrame(caller).trim()}`;
    const nr = a.nrPages[n]!;
    if (nr) out += ` pages=${nr}`;
    const f = a.flags[n]!;
    if (f & VM_IOREMAP) out += " ioremap";
    if (f & VM_ALLOC) out += " vmalloc";
    if (f & VM_MAP) out += " vmap";
    if (f & VM_USERMAP) out += " user";
    if (isVmallocAddr(a.pagesArr[n]!)) out += " vpages";
    // show_numa_info(): CONFIG_NUMA kernels count the pages per node with memory.
    k.vm.nodeCounts(n, k.nodes.length).forEach((c, nid) => {
      if (c) out += ` N${nid}=${c}`;
    });
    out += "\n";
  });
  // show_purge_info() runs after the last busy area: with none, there is nothing to print at all.
  if (out !== "")
    for (let i = a.purge.length - 1; i >= 0; i--) {
      const n = a.purge[i]!;
      const start = a.start[n]! * PAGE_SIZE;
      const size = (a.end[n]! - a.start[n]!) * PAGE_SIZE;
      out += vsprintf("0x%pK-0x%pK %7ld unpurged vm_area\n", [start, start + size, size], ctx);
    }
  return out;
}
