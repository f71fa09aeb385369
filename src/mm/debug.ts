// mm/debug.c and the bad-page reporter of 5.4: __dump_page() (page line, flags with %pGp, the struct page
// as two "raw:" lines of four words) and bad_page() with its 60-per-minute rate limit.
import { hex16, STRUCT_PAGE_SIZE, VMEMMAP_START } from "../arch/x86/layout.ts";
import { HZ } from "../kernel/clock.ts";
import type { Core } from "../kernel/core.ts";
import { KERN_ALERT, KERN_WARNING } from "../kernel/printk.ts";
import { TAINT_BAD_PAGE } from "../kernel/taint.ts";
import { type PageArrays, S_BUDDY, S_HEAD, S_RESERVED, S_SLAB, S_TAIL } from "./page.ts";
import { formatPageFlags, PG_head, PG_reserved, PG_slab } from "./page_flags.ts";

const LIST_POISON1 = 0xdead000000000100n;
const LIST_POISON2 = 0xdead000000000122n;
const TAIL_MAPPING = 0xdead000000000400n;
/** _mapcount of a PageBuddy page: PAGE_MAPCOUNT_RESERVE-style page type (0xffffff7f). */
const PAGE_TYPE_BUDDY = -129;
const COMPOUND_PAGE_DTOR = 1n;

export function pageHandle(pfn: number): number {
  return VMEMMAP_START + STRUCT_PAGE_SIZE * pfn;
}

/** The page->flags word: PG_ bits plus node, zone and last_cpupid fields. */
export function pageFlagsWord(core: Core, p: PageArrays, pfn: number): bigint {
  const L = core.profile.pageFlagsLayout;
  const zid = p.zone[pfn]!;
  const nzones = core.profile.zoneNames.length;
  const st = p.state[pfn]!;
  let f = 0n;
  if (st & S_HEAD) f |= 1n << BigInt(PG_head);
  if (st & S_RESERVED) f |= 1n << BigInt(PG_reserved);
  if (st & S_SLAB) f |= 1n << BigInt(PG_slab);
  f |= BigInt(Math.floor(zid / nzones)) << BigInt(L.nodeShift);
  f |= BigInt(zid % nzones) << BigInt(L.zoneShift);
  f |= ((1n << BigInt(L.cpupidBits)) - 1n) << BigInt(L.cpupidShift);
  return f;
}

/** The PG_ flag bits only (what %pGp names). */
export function pageFlagBits(p: PageArrays, pfn: number): bigint {
  const st = p.state[pfn]!;
  let f = 0n;
  if (st & S_HEAD) f |= 1n << BigInt(PG_head);
  if (st & S_RESERVED) f |= 1n << BigInt(PG_reserved);
  if (st & S_SLAB) f |= 1n << BigInt(PG_slab);
  return f;
}

function mapcountRaw(p: PageArrays, pfn: number): number {
  return p.state[pfn]! & S_BUDDY ? PAGE_TYPE_BUDDY : -1;
}

function u64(v: bigint): string {
  return BigInt.asUintN(64, v).toString(16).padStart(16, "0");
}

/** The eight words of struct page as the raw: lines show them. */
function rawWords(core: Core, p: PageArrays, pfn: number): bigint[] {
  const st = p.state[pfn]!;
  const w: bigint[] = [
    pageFlagsWord(core, p, pfn),
    LIST_POISON1,
    LIST_POISON2,
    0n,
    BigInt(p.mt[pfn]!),
    0n,
    0n,
    0n,
  ];
  if (st & S_TAIL) {
    const head = p.next[pfn]!;
    w[1] = BigInt(pageHandle(head)) | 0xffff000000000001n;
    w[3] = TAIL_MAPPING;
    // page[1] carries compound_dtor, compound_order and compound_mapcount (-1).
    if (pfn === head + 1) w[2] = COMPOUND_PAGE_DTOR | (BigInt(p.order[head]!) << 8n) | (0xffffffffn << 32n);
  } else if (st & S_BUDDY) {
    // Links of a free block: neighbours' lru words (or the list head, shown as the block's own word).
    const n = p.next[pfn]!;
    const v = p.prev[pfn]!;
    const self = BigInt(pageHandle(pfn) + 8) | 0xffff000000000000n;
    w[1] = n >= 0 ? BigInt(pageHandle(n) + 8) | 0xffff000000000000n : self;
    w[2] = v >= 0 ? BigInt(pageHandle(v) + 8) | 0xffff000000000000n : self;
    w[5] = BigInt(p.order[pfn]!);
  }
  w[6] = (BigInt(p.refcount[pfn]!) << 32n) | BigInt(mapcountRaw(p, pfn) >>> 0);
  return w;
}

/**
 * __dump_page(page, reason). In 5.4 the "flags:" line is printed only for anon, KSM or mapped pages
 * (a regression fixed in 5.5 by "mm/debug.c: always print flags in dump_page()"); no page here has a
 * mapping, so the dump is the page line, the raw words and the reason.
 */
export function dumpPage(core: Core, p: PageArrays, pfn: number, reason: string): void {
  const st = p.state[pfn]!;
  const mapcount = mapcountRaw(p, pfn) + 1;
  let line = `page:${hex16(pageHandle(pfn))} refcount:${p.refcount[pfn]} mapcount:${mapcount} mapping:0000000000000000 index:0x${p.mt[pfn]!.toString(16)}`;
  if (st & (S_HEAD | S_TAIL)) line += " compound_mapcount: 0";
  const w = rawWords(core, p, pfn);
  core.lines(
    KERN_WARNING,
    `${line}\nraw: ${w.slice(0, 4).map(u64).join(" ")}\nraw: ${w.slice(4).map(u64).join(" ")}\npage dumped because: ${reason}`,
  );
}

/** bad_page(): "BUG: Bad page state", dump, modules, stack; rate limited to 60 a minute; taints B. */
export class BadPageReporter {
  private shown = 0;
  private unshown = 0;
  private resume = 0;

  constructor(
    private readonly core: Core,
    private readonly p: PageArrays,
  ) {}

  report(pfn: number, reason: string, badFlags: bigint, kernelFrames: readonly string[]): void {
    const core = this.core;
    const j = core.clock.jiffies;
    let quiet = false;
    if (this.shown === 60) {
      if (j < this.resume) {
        this.unshown++;
        quiet = true;
      } else {
        if (this.unshown) core.lines(KERN_ALERT, `BUG: Bad page state: ${this.unshown} messages suppressed`);
        this.unshown = 0;
        this.shown = 0;
      }
    }
    if (!quiet) {
      if (this.shown++ === 0) this.resume = j + 60 * HZ;
      core.lines(
        KERN_ALERT,
        `BUG: Bad page state in process ${core.current.comm}  pfn:${pfn.toString(16).padStart(5, "0")}`,
      );
      dumpPage(core, this.p, pfn, reason);
      const bad = badFlags & pageFlagBits(this.p, pfn);
      if (bad) core.lines(KERN_ALERT, `bad because of flags: 0x${bad.toString(16)}(${formatPageFlags(bad)})`);
      core.lines(KERN_WARNING, core.modulesLine());
      core.dumpStack(["bad_page", ...kernelFrames]);
    }
    core.addTaint(TAINT_BAD_PAGE, true);
    core.afterReport();
  }
}
