// The firmware memory map and memblock, for a QEMU "pc" machine: the BIOS e820 table, the NUMA node
// ranges, and boot-time reservations (memblock_reserve / top-down memblock_alloc) that become the
// difference between present and managed pages.

export const MB = 1 << 20;
const GB = 2 ** 30;
const PAGE = 4096;

/** A half-open range of physical bytes. */
export interface Range {
  start: number;
  end: number;
}

export interface E820Entry extends Range {
  type: "usable" | "reserved";
}

/**
 * QEMU's pc layout: RAM below 4 GiB ends at 3.5 GiB (3 GiB when RAM is 3.5 GiB or more, to keep the PCI
 * hole gigabyte-aligned), the rest is mapped from 4 GiB; the BIOS reserves the EBDA, the ROM area and the
 * last 128 KiB below the top of low RAM (ACPI tables), and 256 KiB under 4 GiB.
 */
export function qemuE820(ram: number): { e820: E820Entry[]; low: number; high: number } {
  const low = ram >= 0xe0000000 ? 0xc0000000 : ram;
  const high = ram - low;
  const e820: E820Entry[] = [
    { start: 0, end: 0x9fc00, type: "usable" },
    { start: 0x9fc00, end: 0xa0000, type: "reserved" },
    { start: 0xf0000, end: 0x100000, type: "reserved" },
    { start: 0x100000, end: low - 0x20000, type: "usable" },
    { start: low - 0x20000, end: low, type: "reserved" },
    { start: 0xfffc0000, end: 4 * GB, type: "reserved" },
  ];
  if (high > 0) e820.push({ start: 4 * GB, end: 4 * GB + high, type: "usable" });
  return { e820, low, high };
}

/** memblock.memory: usable e820 ranges cut to whole pages, without page 0 (e820 update to reserved). */
export function memoryRanges(e820: readonly E820Entry[]): Range[] {
  const out: Range[] = [];
  for (const e of e820) {
    if (e.type !== "usable") continue;
    const start = Math.max(Math.ceil(e.start / PAGE) * PAGE, PAGE);
    const end = Math.floor(e.end / PAGE) * PAGE;
    if (end > start) out.push({ start, end });
  }
  return out;
}

/** Split RAM evenly over nodes (whole 128 MiB sections), in RAM order, as QEMU's -numa node,mem= does. */
export function nodeRanges(memory: readonly Range[], ram: number, low: number, nodes: number): Range[][] {
  const section = 128 * MB;
  const share = Math.floor(ram / nodes / section) * section;
  const toPhys = (x: number) => (x <= low ? x : x - low + 4 * GB);
  const out: Range[][] = [];
  for (let n = 0; n < nodes; n++) {
    const lo = toPhys(n * share);
    const hi = n === nodes - 1 ? Number.POSITIVE_INFINITY : toPhys((n + 1) * share);
    const mine: Range[] = [];
    for (const r of memory) {
      const s = Math.max(r.start, lo);
      const e = Math.min(r.end, hi);
      if (e > s) mine.push({ start: s, end: e });
    }
    out.push(mine);
  }
  return out;
}

/** memblock.reserved and allocation from what is left. */
export class Memblock {
  readonly reserved: Range[] = [];

  constructor(readonly memory: readonly Range[]) {}

  reserve(start: number, end: number): void {
    this.reserved.push({ start, end });
    this.reserved.sort((a, b) => a.start - b.start);
  }

  /** Free ranges (memory minus reserved) intersected with [lo, hi), in ascending order. */
  freeRanges(lo = 0, hi = Number.POSITIVE_INFINITY): Range[] {
    const out: Range[] = [];
    for (const m of this.memory) {
      let s = Math.max(m.start, lo);
      const e = Math.min(m.end, hi);
      for (const r of this.reserved) {
        if (r.end <= s || r.start >= e) continue;
        if (r.start > s) out.push({ start: s, end: r.start });
        s = Math.max(s, r.end);
      }
      if (e > s) out.push({ start: s, end: e });
    }
    return out;
  }

  /** memblock_alloc_range(): the highest free block of `size` aligned to `align` inside [lo, hi). */
  allocTopDown(size: number, align: number, lo = 0, hi = Number.POSITIVE_INFINITY): number {
    const free = this.freeRanges(lo, hi);
    for (let i = free.length - 1; i >= 0; i--) {
      const r = free[i]!;
      const start = Math.floor((r.end - size) / align) * align;
      if (start >= r.start) {
        this.reserve(start, start + size);
        return start;
      }
    }
    throw new RangeError(`memblock: cannot allocate ${size} bytes`);
  }
}
