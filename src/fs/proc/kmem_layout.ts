// /proc/kmem_layout: a kmem-specific file, not in Linux. It shows the kernel virtual address space map that the
// book's ch7 `show_kernel_seg` module prints on x86_64 (PacktPublishing/Linux-Kernel-Programming,
// ch7/show_kernel_seg/kernel_seg.c, show_kernelseg_info(); the 2nd edition calls it ch7/show_kernel_vas),
// regions in decreasing address order, with the module's line layout:
//   "|<region>:" padded to 21 columns, " %px - %px     | [" and the size, the region's end exclusive except
//   vmalloc, where VMALLOC_END is the last byte as in the kernel. Sizes are (end - start) >> 20 (MB) and >> 30 (GB).
// What this build of the module prints on x86_64 (64-bit, no CONFIG_KASAN, no HIGHMEM, not ARM):
//   fixmap    FIXADDR_START .. FIXADDR_START + FIXADDR_SIZE   [%4ld MB]
//   modules   MODULES_VADDR .. MODULES_END                    [%ld MB]
//   (KASAN shadow only with CONFIG_KASAN: kmem has no KASAN, so there is no such line)
//   vmalloc   VMALLOC_START .. VMALLOC_END                    [%4ld MB = %2ld GB]
//   lowmem    PAGE_OFFSET .. high_memory                      [%4ld MB = %2ld GB], then a caption line
// framed by the "[ . . . ]" ellipsis lines and closed by the separator that the module's init prints when
// show_uservas=0. Left out: the leading "\n" of the heading (it only separates the heading from the module's
// earlier log lines), the module's "inserted"/"skipping show userspace..." messages and its minimal system-info
// lines, and the user VAS part (show_uservas=1: environment, arguments, stack, heap, data, text, TASK_SIZE),
// because kmem runs no user process.
import {
  FIXADDR_SIZE,
  FIXADDR_START,
  hex16,
  MODULES_END,
  MODULES_VADDR,
  PAGE_OFFSET,
  PAGE_SIZE,
  VMALLOC_END,
  VMALLOC_START,
} from "../../arch/x86/layout.ts";
import type { Kernel } from "../../kernel/kernel.ts";

const SEPARATOR = `+${"-".repeat(61)}+`;
const ELLIPSIS = `|${" ".repeat(27)}[ . . . ]${" ".repeat(25)}|`;
const LOWMEM_CAPTION = `|${" ".repeat(16)}(above:PAGE_OFFSET    -      highmem)        |`;

/** printf("%Nld", n) for a non-negative n: right-aligned in N columns, never cut. */
function ld(n: number, width = 0): string {
  return String(n).padStart(width, " ");
}

/** (hi - lo) >> shift on addresses that do not fit in 32 bits. */
function shifted(lo: number, hi: number, shift: number): number {
  return Math.floor((hi - lo) / 2 ** shift);
}

/** One region line: the label padded to 21 columns, then " %px - %px     | [" and the size text. */
function region(label: string, lo: number, hi: number, size: string): string {
  return `${`|${label}:`.padEnd(21, " ")} ${hex16(lo)} - ${hex16(hi)}     | [${size}]`;
}

/** high_memory = __va(max_pfn << PAGE_SHIFT): the end of the direct map of RAM. */
export function highMemory(k: Kernel): number {
  return PAGE_OFFSET + k.layout.maxPfn * PAGE_SIZE;
}

export function kmemLayout(k: Kernel): string {
  const high = highMemory(k);
  const mg = (lo: number, hi: number) =>
    `${ld(shifted(lo, hi, 20), 4)} MB = ${ld(shifted(lo, hi, 30), 2)} GB`;
  const lines = [
    "Some Kernel Details [by decreasing address]",
    SEPARATOR,
    ELLIPSIS,
    region(
      "fixmap region",
      FIXADDR_START,
      FIXADDR_START + FIXADDR_SIZE,
      `${ld(shifted(FIXADDR_START, FIXADDR_START + FIXADDR_SIZE, 20), 4)} MB`,
    ),
    region("module region", MODULES_VADDR, MODULES_END, `${ld(shifted(MODULES_VADDR, MODULES_END, 20))} MB`),
    region("vmalloc region", VMALLOC_START, VMALLOC_END, mg(VMALLOC_START, VMALLOC_END)),
    region("lowmem region", PAGE_OFFSET, high, mg(PAGE_OFFSET, high)),
    LOWMEM_CAPTION,
    ELLIPSIS,
    SEPARATOR,
  ];
  return `${lines.join("\n")}\n`;
}
