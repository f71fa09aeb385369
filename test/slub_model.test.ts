// Model-based test of the slab allocator: random programs of kmalloc/kzalloc/krealloc/kfree, cache
// create/alloc/free/shrink/destroy, CPU switches and misuse, against a simple model (the live objects and
// the byte pattern each holds). After every step k.check() must be clean; every live object must keep
// its bytes (no two objects overlap, no allocator metadata lands in a live object); refused misuse must
// change nothing.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  __GFP_ZERO,
  boot,
  GFP_KERNEL,
  type Kernel,
  SLAB_HWCACHE_ALIGN,
  ZERO_SIZE_PTR,
} from "../src/index.ts";
import { slabSnapshot } from "./helpers/machine.ts";

interface Obj {
  addr: number;
  size: number;
  fill: number;
  cache: number; // 0 for kmalloc
}
interface Model {
  live: Obj[];
  caches: { handle: number; size: number; live: number }[];
  nextFill: number;
}

function fillOf(m: Model): number {
  m.nextFill = (m.nextFill % 250) + 1;
  return m.nextFill;
}

function expectIntact(k: Kernel, o: Obj): void {
  const n = Math.min(o.size, 256);
  const b = k.readBytes(o.addr, n);
  for (let i = 0; i < n; i++)
    if (b[i] !== o.fill) expect(`${o.addr.toString(16)}[${i}] = ${b[i]}`).toBe(`fill ${o.fill}`);
}

function verify(m: Model, k: Kernel): void {
  expect(k.check()).toEqual([]);
  for (const o of m.live) expectIntact(k, o);
}

function put(m: Model, k: Kernel, addr: number, size: number, cache: number): void {
  if (addr === 0 || addr === ZERO_SIZE_PTR) return;
  const o = { addr, size, fill: fillOf(m), cache };
  k.memset(addr, o.fill, Math.min(size, 256));
  m.live.push(o);
}

type Cmd = fc.Command<Model, Kernel>;

class Kmalloc implements Cmd {
  constructor(
    readonly size: number,
    readonly zero: boolean,
  ) {}
  check = () => true;
  run(m: Model, k: Kernel): void {
    const p = this.zero ? k.kzalloc(this.size, GFP_KERNEL) : k.kmalloc(this.size, GFP_KERNEL);
    if (this.size === 0) expect(p).toBe(ZERO_SIZE_PTR);
    else expect(p).not.toBe(0);
    if (this.zero && p > ZERO_SIZE_PTR)
      expect(k.readBytes(p, Math.min(this.size, 256)).every((b) => b === 0)).toBe(true);
    if (p > ZERO_SIZE_PTR) expect(k.ksize(p)).toBeGreaterThanOrEqual(this.size);
    put(m, k, p, this.size, 0);
    verify(m, k);
  }
  toString = () => `kmalloc(${this.size}${this.zero ? ", zero" : ""})`;
}

class Free implements Cmd {
  constructor(readonly i: number) {}
  check = (m: Readonly<Model>) => m.live.length > 0;
  run(m: Model, k: Kernel): void {
    const o = m.live.splice(this.i % m.live.length, 1)[0]!;
    expectIntact(k, o);
    if (o.cache) {
      k.kmem_cache_free(o.cache, o.addr);
      m.caches.find((c) => c.handle === o.cache)!.live--;
    } else k.kfree(o.addr);
    verify(m, k);
  }
  toString = () => `free(${this.i})`;
}

class Krealloc implements Cmd {
  constructor(
    readonly i: number,
    readonly size: number,
  ) {}
  check = (m: Readonly<Model>) => m.live.some((o) => o.cache === 0);
  run(m: Model, k: Kernel): void {
    const ks = m.live.filter((o) => o.cache === 0);
    const o = ks[this.i % ks.length]!;
    m.live.splice(m.live.indexOf(o), 1);
    const q = k.krealloc(o.addr, this.size, GFP_KERNEL);
    if (this.size === 0) expect(q).toBe(ZERO_SIZE_PTR);
    else {
      expect(q).not.toBe(0);
      // The old contents survive up to the smaller size.
      const keep = Math.min(o.size, this.size, 256);
      expect(k.readBytes(q, keep).every((b) => b === o.fill)).toBe(true);
      put(m, k, q, this.size, 0);
    }
    verify(m, k);
  }
  toString = () => `krealloc(${this.i}, ${this.size})`;
}

class CacheCreate implements Cmd {
  constructor(
    readonly size: number,
    readonly ctor: boolean,
    readonly hw: boolean,
  ) {}
  check = (m: Readonly<Model>) => m.caches.length < 6;
  run(m: Model, k: Kernel): void {
    const name = `model_${m.caches.length}_${this.size}`;
    let inCtor = 0;
    const c = k.kmem_cache_create(
      name,
      this.size,
      0,
      this.hw ? SLAB_HWCACHE_ALIGN : 0,
      this.ctor ? () => inCtor++ : null,
    );
    expect(c).not.toBe(0);
    m.caches.push({ handle: c, size: this.size, live: 0 });
    verify(m, k);
  }
  toString = () => `create(${this.size}, ctor=${this.ctor}, hw=${this.hw})`;
}

class CacheAlloc implements Cmd {
  constructor(
    readonly i: number,
    readonly zero: boolean,
  ) {}
  check = (m: Readonly<Model>) => m.caches.length > 0;
  run(m: Model, k: Kernel): void {
    const c = m.caches[this.i % m.caches.length]!;
    const p = this.zero
      ? k.kmem_cache_zalloc(c.handle, GFP_KERNEL)
      : k.kmem_cache_alloc(c.handle, GFP_KERNEL);
    expect(p).not.toBe(0);
    c.live++;
    put(m, k, p, c.size, c.handle);
    verify(m, k);
  }
  toString = () => `cache_alloc(${this.i})`;
}

class CacheShrinkOrDestroy implements Cmd {
  constructor(readonly i: number) {}
  check = (m: Readonly<Model>) => m.caches.length > 0;
  run(m: Model, k: Kernel): void {
    const c = m.caches[this.i % m.caches.length]!;
    if (c.live === 0) {
      k.kmem_cache_destroy(c.handle);
      m.caches.splice(m.caches.indexOf(c), 1);
    } else {
      expect(k.kmem_cache_shrink(c.handle)).toBe(1);
    }
    verify(m, k);
  }
  toString = () => `shrink_or_destroy(${this.i})`;
}

class Cpu implements Cmd {
  constructor(readonly cpu: number) {}
  check = () => true;
  run(m: Model, k: Kernel): void {
    k.setCpu(this.cpu % k.cpus);
    verify(m, k);
  }
  toString = () => `cpu(${this.cpu})`;
}

/** Misuse: a second free, or a pointer inside a live object. Reported, refused, nothing changes. */
class Misuse implements Cmd {
  constructor(
    readonly i: number,
    readonly inside: boolean,
  ) {}
  check = (m: Readonly<Model>) => m.live.some((o) => o.size > 8 && o.size <= 8192 && o.cache === 0);
  run(m: Model, k: Kernel): void {
    const cands = m.live.filter((o) => o.size > 8 && o.size <= 8192 && o.cache === 0);
    const o = cands[this.i % cands.length]!;
    if (this.inside) {
      const before = slabSnapshot(k);
      k.kfree(o.addr + 8);
      expect(slabSnapshot(k)).toBe(before);
    } else {
      m.live.splice(m.live.indexOf(o), 1);
      k.kfree(o.addr);
      const before = slabSnapshot(k);
      k.kfree(o.addr);
      expect(slabSnapshot(k)).toBe(before);
    }
    verify(m, k);
  }
  toString = () => `misuse(${this.i}, ${this.inside ? "inside" : "double"})`;
}

const size = fc.oneof(
  { weight: 6, arbitrary: fc.integer({ min: 1, max: 256 }) },
  { weight: 3, arbitrary: fc.integer({ min: 0, max: 8192 }) },
  { weight: 1, arbitrary: fc.integer({ min: 8193, max: 70000 }) },
);
const commands = [
  fc.tuple(size, fc.boolean()).map(([s, z]) => new Kmalloc(s, z)),
  fc.tuple(size, fc.boolean()).map(([s, z]) => new Kmalloc(s, z)),
  fc.nat().map((i) => new Free(i)),
  fc.nat().map((i) => new Free(i)),
  fc.tuple(fc.nat(), size).map(([i, s]) => new Krealloc(i, s)),
  fc
    .tuple(fc.integer({ min: 8, max: 3000 }), fc.boolean(), fc.boolean())
    .map(([s, c, h]) => new CacheCreate(s, c, h)),
  fc.tuple(fc.nat(), fc.boolean()).map(([i, z]) => new CacheAlloc(i, z)),
  fc.tuple(fc.nat(), fc.boolean()).map(([i, z]) => new CacheAlloc(i, z)),
  fc.nat().map((i) => new CacheShrinkOrDestroy(i)),
  fc.nat().map((i) => new Cpu(i)),
  fc.tuple(fc.nat(), fc.boolean()).map(([i, b]) => new Misuse(i, b)),
];

function run(opts: Parameters<typeof boot>[0], numRuns: number): void {
  fc.assert(
    fc.property(fc.commands(commands, { maxCommands: 50 }), (cmds) => {
      const k = boot(opts);
      const m: Model = { live: [], caches: [], nextFill: 0 };
      fc.modelRun(() => ({ model: m, real: k }), cmds);
      for (const o of [...m.live].reverse()) {
        if (o.cache) k.kmem_cache_free(o.cache, o.addr);
        else k.kfree(o.addr);
      }
      for (const c of m.caches) k.kmem_cache_destroy(c.handle);
      expect(k.check()).toEqual([]);
    }),
    { numRuns, seed: 7 },
  );
}

describe("model-based: random slab programs", () => {
  it("two CPUs, no debugging", () => run({ mem: "128M", cpus: 2 }, 300));
  it("two NUMA nodes, four CPUs", () => run({ mem: "256M", nodes: 2, cpus: 4 }, 100));
  it("slub_debug=FZPU on every cache", () => run({ mem: "128M", cpus: 2, cmdline: "slub_debug=FZPU" }, 100));
});

it("kzalloc and kmem_cache_zalloc zero what was dirty", () => {
  const k = boot({ mem: "128M" });
  const p = k.kmalloc(64, GFP_KERNEL);
  k.memset(p, 0x77, 64);
  k.kfree(p);
  const q = k.kmalloc(64, GFP_KERNEL | __GFP_ZERO);
  expect(q).toBe(p); // LIFO reuse of the freed object
  expect([...k.readBytes(q, 64)].every((b) => b === 0)).toBe(true);
  k.kfree(q);
});

it("a metadata-only machine runs SLUB without bytes: free pointers kept aside, debugging switched off", () => {
  const k = boot({ mem: "4G", backing: "none", cmdline: "slub_debug=FZPU" });
  expect(k.dmesg()).toContain("kmem: slub_debug needs memory backing; debugging off (backing: none)");
  const live: number[] = [];
  for (let i = 0; i < 3000; i++) live.push(k.kmalloc(8 + ((i * 37) % 9000), GFP_KERNEL));
  expect(new Set(live).size).toBe(live.length);
  for (let i = 0; i < live.length; i += 2) k.kfree(live[i]!);
  expect(k.check()).toEqual([]);
  const c = k.kmem_cache_create("nobytes", 100, 0, SLAB_HWCACHE_ALIGN, null);
  const o = k.kmem_cache_alloc(c, GFP_KERNEL);
  k.kfree(live[1]!);
  k.kfree(live[1]!); // still caught without bytes: the allocation bits live in metadata
  expect(k.dmesg()).toContain("kernel BUG at mm/slub.c:306!");
  k.kmem_cache_free(c, o);
  k.kmem_cache_destroy(c);
  for (let i = 3; i < live.length; i += 2) k.kfree(live[i]!);
  expect(k.check()).toEqual([]);
  expect(k.phys.residentBytes).toBe(0);
});
