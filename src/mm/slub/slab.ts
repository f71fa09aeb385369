// The slab-side fields of struct page (5.4 keeps them in the head page: slab_cache, freelist, inuse,
// objects, frozen, slab_list), as a structure of typed arrays indexed by a slab id. The head page's
// `prev` link holds that id, so an object's address leads to its slab in O(1), as virt_to_head_page()
// does in the kernel. Ids are recycled; the arrays grow by doubling.

/** Where a slab is (the kernel knows it from the page's list membership and frozen bit). */
export const ON_NONE = 0;
/** On its node's partial list. */
export const ON_PARTIAL = 1;
/** On its node's full list (only kept for SLAB_STORE_USER caches, as 5.4 does). */
export const ON_FULL = 2;
/** A CPU's current slab (frozen). */
export const ON_CPU = 3;
/** On a CPU's partial list (frozen). */
export const ON_CPU_PARTIAL = 4;

export class SlabTable {
  pfn = new Int32Array(0);
  cache = new Int32Array(0);
  /** Address of the first free object of the slab's own freelist (0 = none). */
  freelist = new Float64Array(0);
  inuse = new Int32Array(0);
  objects = new Int32Array(0);
  order = new Uint8Array(0);
  frozen = new Uint8Array(0);
  node = new Uint8Array(0);
  where = new Uint8Array(0);
  next = new Int32Array(0);
  prev = new Int32Array(0);
  /** page->pages / page->pobjects: a per-CPU partial list's counts, kept in the slab at its head. */
  ppages = new Int32Array(0);
  pobjects = new Int32Array(0);
  private freeIds: number[] = [];
  private top = 0;

  constructor(capacity = 256) {
    this.grow(capacity);
  }

  private grow(cap: number): void {
    const g = <T extends Int32Array | Float64Array | Uint8Array>(a: T, make: (n: number) => T): T => {
      const b = make(cap);
      b.set(a as never);
      return b;
    };
    this.pfn = g(this.pfn, (n) => new Int32Array(n));
    this.cache = g(this.cache, (n) => new Int32Array(n));
    this.freelist = g(this.freelist, (n) => new Float64Array(n));
    this.inuse = g(this.inuse, (n) => new Int32Array(n));
    this.objects = g(this.objects, (n) => new Int32Array(n));
    this.order = g(this.order, (n) => new Uint8Array(n));
    this.frozen = g(this.frozen, (n) => new Uint8Array(n));
    this.node = g(this.node, (n) => new Uint8Array(n));
    this.where = g(this.where, (n) => new Uint8Array(n));
    this.next = g(this.next, (n) => new Int32Array(n));
    this.prev = g(this.prev, (n) => new Int32Array(n));
    this.ppages = g(this.ppages, (n) => new Int32Array(n));
    this.pobjects = g(this.pobjects, (n) => new Int32Array(n));
  }

  get capacity(): number {
    return this.pfn.length;
  }

  /** A fresh slab id (its fields are set by the caller). */
  alloc(): number {
    const id = this.freeIds.pop();
    if (id !== undefined) return id;
    if (this.top === this.capacity) this.grow(this.capacity * 2);
    return this.top++;
  }

  release(id: number): void {
    this.cache[id] = -1;
    this.pfn[id] = -1;
    this.where[id] = ON_NONE;
    this.freeIds.push(id);
  }

  /** Ids handed out so far (live or recycled): the range check() walks. */
  get highWater(): number {
    return this.top;
  }
}
