// Model-based test: random sequences of alloc_pages / __free_pages / get_page / put_page / split_page /
// setCpu across orders, GFP zone and mobility flags, compound or not, and CPUs, checked against a simple
// model of which page frames are in use; k.check() after every step. Random misuse in between must be
// refused without changing anything.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  __GFP_COMP,
  __GFP_NOWARN,
  __GFP_THISNODE,
  boot,
  GFP_ATOMIC,
  GFP_DMA,
  GFP_DMA32,
  GFP_HIGHUSER_MOVABLE,
  GFP_KERNEL,
  GFP_NOWAIT,
  type Kernel,
} from "../src/index.ts";
import { S_ALLOC, S_RESERVED, S_TAIL } from "../src/mm/page.ts";
import { freeWithPcp, snapshot } from "./helpers/machine.ts";

interface Block {
  page: number;
  order: number;
  comp: boolean;
  refs: number;
}

interface Model {
  live: Block[];
  used: Set<number>;
  leaked: Set<number>;
  free0: number;
  /** Pages the kernel itself holds (the slab allocator's boot caches): not the program's to misuse. */
  kernel: Set<number>;
}

const GFPS = [
  GFP_KERNEL,
  GFP_DMA32,
  GFP_DMA,
  GFP_ATOMIC,
  GFP_HIGHUSER_MOVABLE,
  GFP_NOWAIT,
  GFP_KERNEL | __GFP_THISNODE,
];

function verify(m: Model, k: Kernel): void {
  const problems = k.check().filter((l) => !l.startsWith("leaked:"));
  expect(problems).toEqual([]);
  expect(new Set(k.leakedPages())).toEqual(m.leaked);
  expect(freeWithPcp(k)).toBe(m.free0 - m.used.size - m.leaked.size);
}

function pfnsOf(k: Kernel, b: Block): number[] {
  const base = k.page_to_pfn(b.page);
  return Array.from({ length: 1 << b.order }, (_, i) => base + i);
}

class Alloc implements fc.Command<Model, Kernel> {
  constructor(
    readonly gfpIdx: number,
    readonly order: number,
    readonly comp: boolean,
  ) {}
  check = () => true;
  run(m: Model, k: Kernel): void {
    const gfp = GFPS[this.gfpIdx]! | __GFP_NOWARN | (this.comp ? __GFP_COMP : 0);
    const page = k.alloc_pages(gfp, this.order);
    if (page !== null) {
      const b = { page, order: this.order, comp: this.comp && this.order > 0, refs: 1 };
      const pfn = k.page_to_pfn(page);
      expect(pfn % (1 << this.order)).toBe(0);
      const zone = k.zones[k.pages.zone[pfn]!]!;
      if (GFPS[this.gfpIdx] === GFP_DMA) expect(zone.name).toBe("DMA");
      if (GFPS[this.gfpIdx] === GFP_DMA32) expect(["DMA", "DMA32"]).toContain(zone.name);
      for (const q of pfnsOf(k, b)) {
        expect(m.used.has(q) || m.leaked.has(q)).toBe(false);
        m.used.add(q);
      }
      m.live.push(b);
    }
    verify(m, k);
  }
  toString = () => `alloc(${this.gfpIdx}, ${this.order}, ${this.comp})`;
}

/** __free_pages with the right order: drops one reference; the last one frees the block. */
class Free implements fc.Command<Model, Kernel> {
  constructor(readonly i: number) {}
  check = (m: Readonly<Model>) => m.live.length > 0;
  run(m: Model, k: Kernel): void {
    const idx = this.i % m.live.length;
    const b = m.live[idx]!;
    k.__free_pages(b.page, b.order);
    if (--b.refs === 0) {
      for (const q of pfnsOf(k, b)) m.used.delete(q);
      m.live.splice(idx, 1);
    }
    verify(m, k);
  }
  toString = () => `free(${this.i})`;
}

class Get implements fc.Command<Model, Kernel> {
  constructor(readonly i: number) {}
  check = (m: Readonly<Model>) => m.live.length > 0;
  run(m: Model, k: Kernel): void {
    const b = m.live[this.i % m.live.length]!;
    // Through a tail page for compound pages: the reference goes to the head.
    k.get_page(b.comp ? k.pfn_to_page(k.page_to_pfn(b.page) + 1) : b.page);
    b.refs++;
    verify(m, k);
  }
  toString = () => `get(${this.i})`;
}

/** put_page: at zero a compound page is freed whole; a non-compound block loses pages 1.. (5.4). */
class Put implements fc.Command<Model, Kernel> {
  constructor(readonly i: number) {}
  check = (m: Readonly<Model>) => m.live.length > 0;
  run(m: Model, k: Kernel): void {
    const idx = this.i % m.live.length;
    const b = m.live[idx]!;
    k.put_page(b.page);
    if (--b.refs === 0) {
      const pfns = pfnsOf(k, b);
      for (const q of pfns) m.used.delete(q);
      if (!b.comp) for (const q of pfns.slice(1)) m.leaked.add(q);
      m.live.splice(idx, 1);
    }
    verify(m, k);
  }
  toString = () => `put(${this.i})`;
}

class Split implements fc.Command<Model, Kernel> {
  constructor(readonly i: number) {}
  check = (m: Readonly<Model>) => m.live.some((b) => !b.comp && b.order > 0 && b.refs === 1);
  run(m: Model, k: Kernel): void {
    const cands = m.live.filter((b) => !b.comp && b.order > 0 && b.refs === 1);
    const b = cands[this.i % cands.length]!;
    k.split_page(b.page, b.order);
    m.live.splice(m.live.indexOf(b), 1);
    const base = k.page_to_pfn(b.page);
    for (let j = 0; j < 1 << b.order; j++)
      m.live.push({ page: k.pfn_to_page(base + j), order: 0, comp: false, refs: 1 });
    verify(m, k);
  }
  toString = () => `split(${this.i})`;
}

/** A misuse: reported, refused, and nothing changes (the snapshot of every structure is the same). */
class Misuse implements fc.Command<Model, Kernel> {
  constructor(
    readonly kind: number,
    readonly i: number,
  ) {}
  check = () => true;
  run(m: Model, k: Kernel): void {
    const before = snapshot(k);
    const b = m.live.length > 0 ? m.live[this.i % m.live.length]! : null;
    // A page frame the model does not own: free, reserved, a hole, or leaked.
    const zone = k.populatedZones()[this.i % k.populatedZones().length]!;
    let other = zone.startPfn + (this.i % zone.spanned);
    while (m.used.has(other) || m.kernel.has(other))
      other = zone.startPfn + ((other - zone.startPfn + 1) % zone.spanned);
    switch (this.kind) {
      case 0:
        k.__free_pages(k.pfn_to_page(other), 0);
        break;
      case 1:
        if (k.pages.refcount[other] === 0) k.get_page(k.pfn_to_page(other));
        break;
      case 2:
        if (b) k.__free_pages(b.page, b.order === 10 ? 9 : b.order + 1);
        break;
      case 3:
        if (b) k.free_pages(k.page_address(b.page) + 8, b.order);
        break;
      case 4:
        if (b?.comp) k.split_page(b.page, b.order);
        break;
      case 5:
        expect(k.alloc_pages(GFP_KERNEL | GFP_DMA | GFP_DMA32, 0)).toBeNull();
        break;
      default:
        expect(k.alloc_pages(GFP_KERNEL, 11)).toBeNull();
    }
    expect(snapshot(k)).toBe(before);
    verify(m, k);
  }
  toString = () => `misuse(${this.kind}, ${this.i})`;
}

class Cpu implements fc.Command<Model, Kernel> {
  constructor(readonly cpu: number) {}
  check = () => true;
  run(m: Model, k: Kernel): void {
    k.setCpu(this.cpu % k.cpus);
    verify(m, k);
  }
  toString = () => `cpu(${this.cpu})`;
}

const commands = [
  fc
    .tuple(fc.nat(GFPS.length - 1), fc.oneof(fc.nat(3), fc.nat(10)), fc.boolean())
    .map(([g, o, c]) => new Alloc(g, o, c)),
  fc.nat().map((i) => new Free(i)),
  fc.nat().map((i) => new Free(i)),
  fc.nat().map((i) => new Get(i)),
  fc.nat().map((i) => new Put(i)),
  fc.nat().map((i) => new Split(i)),
  fc.nat(3).map((c) => new Cpu(c)),
  fc.tuple(fc.nat(6), fc.nat()).map(([kind, i]) => new Misuse(kind, i)),
];

function run(opts: Parameters<typeof boot>[0], numRuns: number): void {
  fc.assert(
    fc.property(fc.commands(commands, { maxCommands: 60 }), (cmds) => {
      const k = boot(opts);
      // The slab allocator's boot caches own some pages already: they are not the program's to misuse.
      const kernel = new Set<number>();
      for (let pfn = 0; pfn < k.pages.nrPfns; pfn++)
        if (k.pages.state[pfn]! & (S_ALLOC | S_TAIL) && !(k.pages.state[pfn]! & S_RESERVED)) kernel.add(pfn);
      const m: Model = { live: [], used: new Set(), leaked: new Set(), free0: freeWithPcp(k), kernel };
      fc.modelRun(() => ({ model: m, real: k }), cmds);
      // Give everything back: the machine returns to a sound state apart from 5.4's leaks.
      for (const b of [...m.live].reverse()) for (let r = b.refs; r > 0; r--) k.__free_pages(b.page, b.order);
      expect(k.check().filter((l) => !l.startsWith("leaked:"))).toEqual([]);
      expect(freeWithPcp(k)).toBe(m.free0 - m.leaked.size);
    }),
    { numRuns, seed: 42 },
  );
}

describe("model-based: random page allocator programs", () => {
  it("one node, two CPUs", () => run({ mem: "128M", cpus: 2 }, 1500));
  it("two NUMA nodes, four CPUs", () => run({ mem: "256M", nodes: 2, cpus: 4 }, 500));
});
