// CONFIG_SLUB_DEBUG (mm/slub.c): the debug object layout (red zones, poison, padding, alloc/free tracks)
// written into real memory, the checks made on allocation, free and validation, and the reports in 5.4's
// words: slab_bug()'s banner, the "INFO:" lines, print_trailer()'s hex dumps and slab_fix()'s repairs.
import { PAGE_OFFSET, PAGE_SIZE } from "../../arch/x86/layout.ts";
import { HZ } from "../../kernel/clock.ts";
import { KERN, KERN_ERR, KERN_INFO, KERN_WARNING } from "../../kernel/printk.ts";
import { formatFrame } from "../../kernel/stacktrace.ts";
import { TAINT_BAD_PAGE } from "../../kernel/taint.ts";
import { DUMP_PREFIX_ADDRESS, hexDumpLines } from "../../lib/hexdump.ts";
import { pageFlagsWord, pageHandle } from "../debug.ts";
import { __GFP_NOWARN } from "../gfp.ts";
import { Ratelimit } from "../show_mem.ts";
import type { KmemCache } from "./cache.ts";
import {
  POISON_END,
  POISON_FREE,
  POISON_INUSE,
  SLAB_POISON,
  SLUB_RED_ACTIVE,
  SLUB_RED_INACTIVE,
} from "./flags.ts";
import { MAX_OBJS_PER_PAGE } from "./geometry.ts";
import type { Slub } from "./slub.ts";

const BANNER = "=".repeat(77);
const RULE = "-".repeat(77);
const TRACK_ALLOC = 0;
const TRACK_FREE = 1;

/** The kernel frames above the caller in a track, as 5.4's stack_trace_save(skip 3) leaves them. */
const ALLOC_FRAMES = ["__slab_alloc", "kmem_cache_alloc"];
const FREE_FRAMES = ["kmem_cache_free"];

export class SlubDebug {
  private readonly oomRs = new Ratelimit(5 * HZ, 10);
  /** Reports and repairs made so far (what the kernel's slub KUnit suite counts as "slab_errors"). */
  errors = 0;

  constructor(
    private readonly slub: Slub,
    private readonly trackSize: number,
  ) {}

  private get core() {
    return this.slub.core;
  }

  private get phys() {
    return this.slub.phys;
  }

  /** %p: the hashed pointer 5.4 prints. */
  private p(addr: number): string {
    return this.core.printfCtx.hashPointer(addr);
  }

  private err(text: string): void {
    this.core.lines(KERN_ERR, text);
  }

  // ---- object layout ---------------------------------------------------------------------------

  /** init_object(): red zones (0xbb free, 0xcc allocated) and the poison pattern of a free object. */
  initObject(s: KmemCache, obj: number, active: boolean): void {
    const ph = obj - PAGE_OFFSET;
    const val = active ? SLUB_RED_ACTIVE : SLUB_RED_INACTIVE;
    if (s.redZone) this.phys.fill(ph - s.redLeftPad, val, s.redLeftPad);
    if (s.poison && !active) {
      this.phys.fill(ph, POISON_FREE, s.objectSize - 1);
      this.phys.write8(ph + s.objectSize - 1, POISON_END);
    }
    if (s.redZone) this.phys.fill(ph + s.objectSize, val, s.inuse - s.objectSize);
  }

  /** setup_object_debug(): a new slab's object starts free, with empty tracks. */
  setupObject(s: KmemCache, obj: number): void {
    this.initObject(s, obj, false);
    if (s.storeUser) this.phys.fill(this.trackAddr(s, obj, TRACK_ALLOC), 0, 2 * this.trackSize);
  }

  private trackAddr(s: KmemCache, obj: number, which: number): number {
    return obj - PAGE_OFFSET + s.trackOffset + which * this.trackSize;
  }

  /** set_track(): the stack handle (in the addr word), cpu, pid and jiffies of an alloc or free. */
  private setTrack(s: KmemCache, obj: number, which: number): void {
    const t = this.trackAddr(s, obj, which);
    const old = this.phys.readPtr(t);
    if (old) this.core.stacks.release(old);
    const h = this.core.saveStack(which === TRACK_ALLOC ? ALLOC_FRAMES : FREE_FRAMES);
    this.phys.writePtr(t, h);
    const tail = t + this.trackSize - 16;
    this.phys.write32(tail, this.core.cpuId());
    this.phys.write32(tail + 4, this.core.current.pid);
    this.phys.writePtr(tail + 8, this.core.clock.jiffies);
  }

  /** The stack handles of a slab's tracks go back to the depot when the slab is freed. */
  releaseTracks(s: KmemCache, id: number): void {
    this.slub.forEachObject(s, id, (obj) => {
      for (const w of [TRACK_ALLOC, TRACK_FREE]) {
        const t = this.trackAddr(s, obj, w);
        const h = this.phys.readPtr(t);
        if (h) this.core.stacks.release(h);
      }
    });
  }

  /** An object's alloc (0) or free (1) track: caller ("" when never recorded), when, pid and cpu. */
  trackOf(
    s: KmemCache,
    obj: number,
    which: number,
  ): { caller: string; when: number; pid: number; cpu: number } {
    const t = this.trackAddr(s, obj, which);
    const h = this.phys.readPtr(t);
    const tail = t + this.trackSize - 16;
    const caller = h ? this.core.stacks.caller(h) : null;
    return {
      caller: caller ? formatFrame(caller).trim() : "",
      when: this.phys.readPtr(tail + 8),
      pid: this.phys.read32(tail + 4),
      cpu: this.phys.read32(tail),
    };
  }

  /** print_track(): "INFO: Allocated in <caller> age=… cpu=… pid=…" and the saved frames. */
  private printTrack(label: string, s: KmemCache, obj: number, which: number): void {
    const t = this.trackAddr(s, obj, which);
    const h = this.phys.readPtr(t);
    if (!h) return;
    const tail = t + this.trackSize - 16;
    const when = this.phys.readPtr(tail + 8);
    const caller = this.core.stacks.caller(h);
    const lines = [
      `INFO: ${label} in ${caller ? formatFrame(caller).trim() : "0x0"} age=${this.core.clock.jiffies - when} cpu=${this.phys.read32(tail)} pid=${this.phys.read32(tail + 4)}`,
    ];
    for (const f of this.core.stacks.frames(h, 16).slice(0, 16)) lines.push(`\t${formatFrame(f).trim()}`);
    this.err(lines.join("\n"));
  }

  private printTracking(s: KmemCache, obj: number): void {
    if (!s.storeUser) return;
    this.printTrack("Allocated", s, obj, TRACK_ALLOC);
    this.printTrack("Freed", s, obj, TRACK_FREE);
  }

  // ---- report pieces -----------------------------------------------------------------------------

  /** slab_bug(): the banner; the first report also taints the kernel (B) and turns lock debugging off. */
  slabBug(s: KmemCache, text: string): void {
    this.errors++;
    this.err(`${BANNER}\nBUG ${s.name} (${this.core.taintText()}): ${text}\n${RULE}\n\n`);
    this.core.addTaint(TAINT_BAD_PAGE, true);
  }

  /** slab_fix(). */
  slabFix(s: KmemCache, text: string): void {
    this.errors++;
    this.err(`FIX ${s.name}: ${text}`);
  }

  /** print_page_info(). */
  private printPageInfo(id: number): void {
    const sl = this.slub.slabs;
    const pfn = sl.pfn[id]!;
    const flags = pageFlagsWord(this.core, this.slub.pages, pfn);
    this.err(
      `INFO: Slab 0x${this.p(pageHandle(pfn))} objects=${sl.objects[id]} used=${sl.inuse[id]} fp=0x${this.p(sl.freelist[id]!)} flags=0x${flags.toString(16).padStart(4, "0")}`,
    );
  }

  private section(text: string, addr: number, len: number): void {
    if (len <= 0) return;
    const bytes = this.phys.readBytes(addr - PAGE_OFFSET, len);
    this.err(hexDumpLines(text, DUMP_PREFIX_ADDRESS, 16, bytes, addr, true, (a) => this.p(a)).join("\n"));
  }

  /** print_trailer(): tracks, slab info, the object line and the hex dumps of the whole slot. */
  private printTrailer(s: KmemCache, id: number, obj: number): void {
    this.printTracking(s, obj);
    this.printPageInfo(id);
    const base = this.slub.slabBase(id);
    this.err(
      `INFO: Object 0x${this.p(obj)} @offset=${obj - base} fp=0x${this.p(this.slub.getFreePointer(s, obj))}\n\n`,
    );
    if (s.redZone) this.section("Redzone ", obj - s.redLeftPad, s.redLeftPad);
    else if (obj > base + 16) this.section("Bytes b4 ", obj - 16, 16);
    this.section("Object ", obj, Math.min(s.objectSize, PAGE_SIZE));
    if (s.redZone) this.section("Redzone ", obj + s.objectSize, s.inuse - s.objectSize);
    let off = s.trackOffset;
    if (s.storeUser) off += 2 * this.trackSize;
    if (off !== s.sizeFromObject) this.section("Padding ", obj + off, s.sizeFromObject - off);
    this.core.dumpStack(["print_trailer"]);
  }

  /** object_err(). */
  objectErr(s: KmemCache, id: number, obj: number, reason: string): void {
    this.slabBug(s, reason);
    this.printTrailer(s, id, obj);
  }

  /** slab_err(). */
  slabErr(s: KmemCache, id: number, text: string, callers: readonly string[]): void {
    this.slabBug(s, text);
    this.printPageInfo(id);
    this.core.dumpStack(["slab_err", ...callers]);
  }

  /**
   * check_bytes_and_report(): `n` bytes at `start` must all be `value`; otherwise report the first and
   * last wrong byte, dump the object, and restore the pattern ("FIX … Restoring").
   */
  private checkBytes(
    s: KmemCache,
    id: number,
    obj: number,
    what: string,
    start: number,
    value: number,
    n: number,
  ) {
    if (n <= 0) return true;
    const first = this.phys.findNot(start - PAGE_OFFSET, value, n);
    if (first < 0) return true;
    const bytes = this.phys.readBytes(start - PAGE_OFFSET, n);
    let end = n;
    while (end > first && bytes[end - 1] === value) end--;
    this.slabBug(s, `${what} overwritten`);
    this.err(
      `INFO: 0x${this.p(start + first)}-0x${this.p(start + end - 1)}. First byte 0x${bytes[first]!.toString(16)} instead of 0x${value.toString(16)}`,
    );
    this.printTrailer(s, id, obj);
    this.slabFix(
      s,
      `Restoring 0x${this.p(start + first)}-0x${this.p(start + end - 1)}=0x${value.toString(16)}\n\n`,
    );
    this.phys.fill(start + first - PAGE_OFFSET, value, end - first);
    return false;
  }

  /** check_pad_bytes(): the slot's bytes after the metadata must still hold POISON_INUSE. */
  private checkPadBytes(s: KmemCache, id: number, obj: number): boolean {
    let off = s.trackOffset;
    if (s.storeUser) off += 2 * this.trackSize;
    if (s.sizeFromObject === off) return true;
    return this.checkBytes(s, id, obj, "Object padding", obj + off, POISON_INUSE, s.sizeFromObject - off);
  }

  /** check_object(): red zones, poison, padding and the free pointer, for a free or allocated object. */
  checkObject(s: KmemCache, id: number, obj: number, active: boolean): boolean {
    const val = active ? SLUB_RED_ACTIVE : SLUB_RED_INACTIVE;
    if (s.redZone) {
      if (!this.checkBytes(s, id, obj, "Redzone", obj - s.redLeftPad, val, s.redLeftPad)) return false;
      if (!this.checkBytes(s, id, obj, "Redzone", obj + s.objectSize, val, s.inuse - s.objectSize))
        return false;
    } else if (s.poison && s.objectSize < s.inuse) {
      this.checkBytes(
        s,
        id,
        obj,
        "Alignment padding",
        obj + s.objectSize,
        POISON_INUSE,
        s.inuse - s.objectSize,
      );
    }
    if (s.flags & SLAB_POISON) {
      if (
        !active &&
        s.poison &&
        (!this.checkBytes(s, id, obj, "Poison", obj, POISON_FREE, s.objectSize - 1) ||
          !this.checkBytes(s, id, obj, "Poison", obj + s.objectSize - 1, POISON_END, 1))
      )
        return false;
      this.checkPadBytes(s, id, obj);
    }
    // An allocated object whose free pointer lives inside it has no pointer to check.
    if (s.offset < s.inuse && active) return true;
    const fp = this.slub.getFreePointer(s, obj);
    if (fp !== 0 && this.slub.objectIndex(s, id, fp) < 0) {
      this.objectErr(s, id, obj, "Freepointer corrupt");
      this.slub.setFreePointer(s, obj, 0);
      return false;
    }
    return true;
  }

  /**
   * __free_slab() of a cache with consistency checks (F): the slab's tail padding (slab_pad_check) and every object, as free,
   * are checked one last time before the pages go back.
   */
  freeSlabChecks(s: KmemCache, id: number): void {
    this.slabPadCheck(s, id);
    this.slub.forEachObject(s, id, (obj) => {
      this.checkObject(s, id, obj, false);
    });
  }

  /** slab_pad_check(): the bytes after the last object of a SLAB_POISON slab must still be 0x5a. */
  private slabPadCheck(s: KmemCache, id: number): void {
    if (!(s.flags & SLAB_POISON)) return;
    const sl = this.slub.slabs;
    const start = this.slub.slabBase(id);
    const length = PAGE_SIZE << sl.order[id]!;
    const remainder = length % s.size;
    if (!remainder) return;
    const pad = start + length - remainder;
    const first = this.phys.findNot(pad - PAGE_OFFSET, POISON_INUSE, remainder);
    if (first < 0) return;
    const bytes = this.phys.readBytes(pad - PAGE_OFFSET, remainder);
    let end = remainder;
    while (end > first && bytes[end - 1] === POISON_INUSE) end--;
    this.slabErr(s, id, `Padding overwritten. 0x${this.p(pad + first)}-0x${this.p(pad + end - 1)}`, [
      "slab_pad_check",
    ]);
    this.section("Padding ", pad, remainder);
    this.slabFix(s, `Restoring 0x${this.p(pad + first)}-0x${this.p(pad + end - 1)}=0x5a\n`);
    this.phys.fill(pad + first - PAGE_OFFSET, POISON_INUSE, end - first);
  }

  /** check_slab(). */
  private checkSlab(s: KmemCache, id: number): boolean {
    const sl = this.slub.slabs;
    const max = Math.min(MAX_OBJS_PER_PAGE, Math.floor((PAGE_SIZE << sl.order[id]!) / s.size));
    if (sl.objects[id]! > max) {
      this.slabErr(s, id, `objects ${sl.objects[id]} > max ${max}`, ["check_slab"]);
      return false;
    }
    if (sl.inuse[id]! > sl.objects[id]!) {
      this.slabErr(s, id, `inuse ${sl.inuse[id]} > max ${sl.objects[id]}`, ["check_slab"]);
      return false;
    }
    return true;
  }

  private traceOp(s: KmemCache, id: number, obj: number, alloc: boolean): void {
    if (!s.trace) return;
    this.core.lines(
      KERN_INFO,
      `TRACE ${s.name} ${alloc ? "alloc" : "free"} 0x${this.p(obj)} inuse=${this.slub.slabs.inuse[id]} fp=0x${this.p(this.slub.slabs.freelist[id]!)}`,
    );
    this.core.dumpStack([]);
  }

  // ---- the checked paths -------------------------------------------------------------------------

  /**
   * alloc_debug_processing() for the first object of a freelist just taken by the CPU. On a failed check
   * the whole slab is written off ("Marking all objects used").
   */
  allocProcessing(s: KmemCache, id: number, obj: number): boolean {
    if (s.checks) {
      let ok = this.checkSlab(s, id);
      if (ok && this.slub.objectIndex(s, id, obj) < 0) {
        this.objectErr(s, id, obj, "Freelist Pointer check fails");
        ok = false;
      }
      if (ok && !this.checkObject(s, id, obj, false)) ok = false;
      if (!ok) {
        this.slabFix(s, "Marking all objects used");
        // The CPU took the freelist already: its objects are now lost in use, as in the kernel.
        for (let o = obj; o !== 0 && this.slub.objectIndex(s, id, o) >= 0; ) {
          const next = this.slub.getFreePointer(s, o);
          this.slub.setAllocated(o, true);
          o = next;
        }
        const cpu = this.slub.pa.cpu;
        s.cpuFreelist[cpu] = 0;
        return false;
      }
    }
    if (s.storeUser) this.setTrack(s, obj, TRACK_ALLOC);
    this.traceOp(s, id, obj, true);
    this.initObject(s, obj, true);
    return true;
  }

  /** free_debug_processing() after the pointer checks: the object's red zones must be intact. */
  freeProcessing(s: KmemCache, id: number, obj: number): boolean {
    if (s.checks && (!this.checkSlab(s, id) || !this.checkObject(s, id, obj, true))) {
      this.slabFix(s, `Object at 0x${this.p(obj)} not freed`);
      return false;
    }
    if (s.storeUser) this.setTrack(s, obj, TRACK_FREE);
    this.traceOp(s, id, obj, false);
    this.initObject(s, obj, false);
    return true;
  }

  /** free_consistency_checks()'s "Invalid object pointer" (any cache: the pointer is not an object's start). */
  invalidPointer(s: KmemCache, id: number, obj: number, fn: string): void {
    this.slabErr(s, id, `Invalid object pointer 0x${this.p(obj)}`, [
      "free_debug_processing",
      "__slab_free",
      fn,
    ]);
    this.slabFix(s, `Object at 0x${this.p(obj)} not freed`);
  }

  /** "Object already free" (debug caches; without debugging the hardened freelist check BUGs instead). */
  alreadyFree(s: KmemCache, id: number, obj: number): void {
    this.objectErr(s, id, obj, "Object already free");
    this.slabFix(s, `Object at 0x${this.p(obj)} not freed`);
  }

  /** list_slab_objects(): what __kmem_cache_shutdown() finds still allocated in a partial slab. */
  listSlabObjects(s: KmemCache, id: number, text: string): void {
    this.slabErr(s, id, text, ["__kmem_cache_shutdown", "shutdown_cache", "kmem_cache_destroy"]);
    const base = this.slub.slabBase(id);
    this.slub.forEachObject(s, id, (obj, allocated) => {
      if (!allocated) return;
      this.err(`INFO: Object 0x${this.p(obj)} @offset=${obj - base}`);
      this.printTracking(s, obj);
    });
  }

  /** slab_out_of_memory(): what a failed slab allocation prints, 10 reports per 5 s at most. */
  outOfMemory(s: KmemCache, gfp: number, nid: number): void {
    // DEFINE_RATELIMIT_STATE(slub_oom_rs, DEFAULT_RATELIMIT_INTERVAL, DEFAULT_RATELIMIT_BURST).
    if (gfp & __GFP_NOWARN) return;
    const onMissed = (n: number) =>
      this.core.lines(KERN_WARNING, `slab_out_of_memory: ${n} callbacks suppressed`);
    if (!this.oomRs.ok(this.core.clock.jiffies, onMissed)) return;
    const nodes = this.slub.nodes;
    this.core.printk(
      `${KERN.WARNING}SLUB: Unable to allocate memory on node %d, gfp=%#x(%pGg)\n`,
      nid,
      gfp,
      gfp,
    );
    this.core.lines(
      KERN_WARNING,
      `  cache: ${s.name}, object size: ${s.objectSize}, buffer size: ${s.size}, default order: ${s.order}, min order: ${s.minOrder}`,
    );
    for (let n = 0; n < nodes; n++) {
      const slabs = s.nrSlabs[n]!;
      const objs = s.totalObjects[n]!;
      let free = 0;
      for (let id = s.partialHead[n]!; id !== -1; id = this.slub.slabs.next[id]!)
        free += this.slub.slabs.objects[id]! - this.slub.slabs.inuse[id]!;
      this.core.lines(KERN_WARNING, `  node ${n}: slabs: ${slabs}, objs: ${objs}, free: ${free}`);
    }
  }

  // ---- validation (/sys/kernel/slab/<cache>/validate) ---------------------------------------------

  /**
   * on_freelist() with no object to search: walk the slab's freelist, repair a corrupt chain, and check
   * the slab's object count and in-use counter against what the walk found.
   */
  private onFreelist(s: KmemCache, id: number): boolean {
    const sl = this.slub.slabs;
    let fp = sl.freelist[id]!;
    let last = 0;
    let nr = 0;
    while (fp !== 0 && nr <= sl.objects[id]!) {
      if (this.slub.objectIndex(s, id, fp) < 0) {
        if (last) {
          this.objectErr(s, id, last, "Freechain corrupt");
          this.slub.setFreePointer(s, last, 0);
        } else {
          this.slabErr(s, id, "Freepointer corrupt", ["on_freelist"]);
          sl.freelist[id] = 0;
          sl.inuse[id] = sl.objects[id]!;
          this.slabFix(s, "Freelist cleared");
          return false;
        }
        break;
      }
      last = fp;
      fp = this.slub.getFreePointer(s, fp);
      nr++;
    }
    const max = Math.min(MAX_OBJS_PER_PAGE, Math.floor((PAGE_SIZE << sl.order[id]!) / s.size));
    if (sl.objects[id] !== max) {
      this.slabErr(s, id, `Wrong number of objects. Found ${sl.objects[id]} but should be ${max}`, [
        "on_freelist",
      ]);
      sl.objects[id] = max;
      this.slabFix(s, "Number of objects adjusted.");
    }
    if (sl.inuse[id] !== sl.objects[id]! - nr) {
      this.slabErr(
        s,
        id,
        `Wrong object count. Counter is ${sl.inuse[id]} but counted were ${sl.objects[id]! - nr}`,
        ["on_freelist"],
      );
      sl.inuse[id] = sl.objects[id]! - nr;
      this.slabFix(s, "Object count adjusted.");
    }
    return true;
  }

  /** validate_slab(): the freelist, then every free object as free and every other one as allocated. */
  private validateSlab(s: KmemCache, id: number): void {
    if (!this.checkSlab(s, id) || !this.onFreelist(s, id)) return;
    const free = new Set<number>();
    for (let fp = this.slub.slabs.freelist[id]!; fp !== 0 && free.size <= this.slub.slabs.objects[id]!; ) {
      free.add(fp);
      fp = this.slub.getFreePointer(s, fp);
    }
    const objs: number[] = [];
    this.slub.forEachObject(s, id, (o) => {
      objs.push(o);
    });
    for (const o of objs) if (free.has(o) && !this.checkObject(s, id, o, false)) return;
    for (const o of objs) if (!free.has(o) && !this.checkObject(s, id, o, true)) return;
  }

  /** validate_slab_cache(): flush the CPUs, then every partial (and, with store_user, full) slab. */
  validate(s: KmemCache): void {
    this.slub.flushAll(s);
    const sl = this.slub.slabs;
    for (let n = 0; n < this.slub.nodes; n++) {
      let count = 0;
      for (let id = s.partialHead[n]!; id !== -1; id = sl.next[id]!) {
        this.validateSlab(s, id);
        count++;
      }
      if (count !== s.nrPartial[n])
        this.err(`SLUB ${s.name}: ${count} partial slabs counted but counter=${s.nrPartial[n]}`);
      if (!s.storeUser) continue;
      for (let id = s.fullHead[n]!; id !== -1; id = sl.next[id]!) {
        this.validateSlab(s, id);
        count++;
      }
      if (count !== s.nrSlabs[n])
        this.err(`SLUB: ${s.name} ${count} slabs counted but counter=${s.nrSlabs[n]}`);
    }
  }
}
