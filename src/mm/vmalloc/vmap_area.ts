// struct vmap_area and the two trees of mm/vmalloc.c (5.2+): the free vmap space, sorted by address and
// augmented with each subtree's largest free block so the lowest-address fit is found in O(log n)
// (find_vmap_lowest_match), and the busy areas, sorted by address (__find_vmap_area). The kernel uses
// red-black trees; these are treaps (same ordering and augmentation, simpler balancing) whose nodes live
// in typed arrays. Addresses and sizes are in pages.

export const NIL = -1;

/** vm_struct flags (include/linux/vmalloc.h, 5.4). */
export const VM_IOREMAP = 0x1;
export const VM_ALLOC = 0x2;
export const VM_MAP = 0x4;
export const VM_USERMAP = 0x8;
export const VM_NO_GUARD = 0x40;

export class VmapAreas {
  private cap = 0;
  /** [start, end) in pages. */
  start = new Float64Array(0);
  end = new Float64Array(0);
  /** subtree_max_size (free tree only). */
  max = new Float64Array(0);
  left = new Int32Array(0);
  right = new Int32Array(0);
  private prio = new Int32Array(0);
  /** The struct vmap_area object (a slab object) each node stands for. */
  obj = new Float64Array(0);
  /** Busy areas: the vm_struct (0 once vfree'd or for vm_map_ram), its flags, pages and the pages array. */
  vm = new Float64Array(0);
  flags = new Int32Array(0);
  nrPages = new Float64Array(0);
  pagesArr = new Float64Array(0);
  /** Busy areas: the caller's saved stack (a stack-depot handle). */
  caller = new Int32Array(0);
  private freeNodes: number[] = [];
  private seed = 0x2545f491;

  freeRoot = NIL;
  busyRoot = NIL;
  /** Lazily freed areas (vmap_purge_list), oldest first; their pages counted in `lazyPages`. */
  purge: number[] = [];
  lazyPages = 0;

  constructor() {
    this.grow(256);
  }

  private grow(n: number): void {
    const f64 = (a: Float64Array) => {
      const b = new Float64Array(n);
      b.set(a);
      return b;
    };
    const i32 = (a: Int32Array) => {
      const b = new Int32Array(n);
      b.set(a);
      return b;
    };
    this.start = f64(this.start);
    this.end = f64(this.end);
    this.max = f64(this.max);
    this.left = i32(this.left);
    this.right = i32(this.right);
    this.prio = i32(this.prio);
    this.obj = f64(this.obj);
    this.vm = f64(this.vm);
    this.flags = i32(this.flags);
    this.nrPages = f64(this.nrPages);
    this.pagesArr = f64(this.pagesArr);
    this.caller = i32(this.caller);
    for (let i = n - 1; i >= this.cap; i--) this.freeNodes.push(i);
    this.cap = n;
  }

  /** A new node for [start, end) standing for vmap_area object `obj`. */
  node(start: number, end: number, obj: number): number {
    if (this.freeNodes.length === 0) this.grow(this.cap * 2);
    const n = this.freeNodes.pop()!;
    this.start[n] = start;
    this.end[n] = end;
    this.max[n] = end - start;
    this.left[n] = NIL;
    this.right[n] = NIL;
    // xorshift32: priorities only shape the tree, never the answers.
    let x = this.seed;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.seed = x;
    this.prio[n] = x;
    this.obj[n] = obj;
    this.vm[n] = 0;
    this.flags[n] = 0;
    this.nrPages[n] = 0;
    this.pagesArr[n] = 0;
    this.caller[n] = 0;
    return n;
  }

  release(n: number): void {
    this.freeNodes.push(n);
  }

  // ---- treap mechanics (keys: start) -----------------------------------------------------------

  private sub(n: number): number {
    return n === NIL ? 0 : this.max[n]!;
  }

  private update(n: number): void {
    this.max[n] = Math.max(this.end[n]! - this.start[n]!, this.sub(this.left[n]!), this.sub(this.right[n]!));
  }

  private merge(a: number, b: number): number {
    if (a === NIL) return b;
    if (b === NIL) return a;
    if (this.prio[a]! > this.prio[b]!) {
      this.right[a] = this.merge(this.right[a]!, b);
      this.update(a);
      return a;
    }
    this.left[b] = this.merge(a, this.left[b]!);
    this.update(b);
    return b;
  }

  private splitL = NIL;
  private splitR = NIL;

  /** Split `t` into keys < key (splitL) and keys >= key (splitR). */
  private split(t: number, key: number): void {
    if (t === NIL) {
      this.splitL = NIL;
      this.splitR = NIL;
      return;
    }
    if (this.start[t]! < key) {
      this.split(this.right[t]!, key);
      this.right[t] = this.splitL;
      this.update(t);
      this.splitL = t;
    } else {
      this.split(this.left[t]!, key);
      this.left[t] = this.splitR;
      this.update(t);
      this.splitR = t;
    }
  }

  insert(root: number, n: number): number {
    this.split(root, this.start[n]!);
    const l = this.splitL;
    const r = this.splitR;
    return this.merge(this.merge(l, n), r);
  }

  /** Unlink node `n` (unlink_va). */
  remove(root: number, n: number): number {
    if (root === n) return this.merge(this.left[n]!, this.right[n]!);
    if (this.start[n]! < this.start[root]!) this.left[root] = this.remove(this.left[root]!, n);
    else this.right[root] = this.remove(this.right[root]!, n);
    this.update(root);
    return root;
  }

  /** Recompute subtree maxima on the path to `n` after its size changed (augment_tree_propagate_from). */
  propagate(root: number, n: number): void {
    if (root === NIL) return;
    if (root !== n)
      this.propagate(this.start[n]! < this.start[root]! ? this.left[root]! : this.right[root]!, n);
    this.update(root);
  }

  /** The node whose [start, end) holds `page` (__find_vmap_area), or NIL. */
  find(root: number, page: number): number {
    let t = root;
    while (t !== NIL) {
      if (page < this.start[t]!) t = this.left[t]!;
      else if (page >= this.end[t]!) t = this.right[t]!;
      else return t;
    }
    return NIL;
  }

  /** The last node starting at or before `page`, or NIL. */
  floor(root: number, page: number): number {
    let t = root;
    let best = NIL;
    while (t !== NIL) {
      if (this.start[t]! <= page) {
        best = t;
        t = this.right[t]!;
      } else t = this.left[t]!;
    }
    return best;
  }

  /** The first node starting at or after `page`, or NIL. */
  ceil(root: number, page: number): number {
    let t = root;
    let best = NIL;
    while (t !== NIL) {
      if (this.start[t]! >= page) {
        best = t;
        t = this.left[t]!;
      } else t = this.right[t]!;
    }
    return best;
  }

  /** In-order walk (vmallocinfo, k.check()). */
  each(root: number, fn: (n: number) => void): void {
    if (root === NIL) return;
    this.each(this.left[root]!, fn);
    fn(root);
    this.each(this.right[root]!, fn);
  }

  // ---- the free vmap space (mm/vmalloc.c, 5.4) ----------------------------------------------------

  /** Where a block [s, e) would place `size` pages at `align` no lower than `vstart`, or -1 (is_within_this_va). */
  private fit(n: number, size: number, align: number, vstart: number): number {
    const s = this.start[n]!;
    const at = Math.ceil(Math.max(s, vstart) / align) * align;
    return at >= vstart && at + size <= this.end[n]! ? at : -1;
  }

  /**
   * find_vmap_lowest_match(): the lowest-address free block that fits, descending only into subtrees
   * whose largest block is at least size + align - 1 (so a fit there is certain whatever the alignment).
   */
  private lowest(t: number, size: number, align: number, vstart: number, length: number): number {
    if (t === NIL) return NIL;
    const l = this.left[t]!;
    if (this.sub(l) >= length && vstart < this.start[t]!) {
      const r = this.lowest(l, size, align, vstart, length);
      if (r !== NIL) return r;
    }
    if (this.fit(t, size, align, vstart) >= 0) return t;
    const r = this.right[t]!;
    return this.sub(r) >= length ? this.lowest(r, size, align, vstart, length) : NIL;
  }

  /**
   * __alloc_vmap_area(): carve [addr, addr+size) out of the lowest fitting free block within
   * [vstart, vend); returns addr, or -1. `newObj` supplies a vmap_area object when the block is split in
   * two (the "no edge" fit), or 0 when none can be had; `freeObj` takes back the object of a block used up.
   */
  allocate(
    size: number,
    align: number,
    vstart: number,
    vend: number,
    newObj: () => number,
    freeObj: (obj: number) => void,
  ): number {
    const va = this.lowest(this.freeRoot, size, align, vstart, size + align - 1);
    if (va === NIL) return -1;
    const at = this.fit(va, size, align, vstart);
    if (at < 0 || at + size > vend) return -1;
    const s = this.start[va]!;
    const e = this.end[va]!;
    if (at === s && at + size === e) {
      // FL_FIT_TYPE: the block is used up.
      this.freeRoot = this.remove(this.freeRoot, va);
      freeObj(this.obj[va]!);
      this.release(va);
    } else if (at === s) {
      // LE_FIT_TYPE: shrink from the left; the key grows but the order among blocks is unchanged.
      this.start[va] = at + size;
      this.propagate(this.freeRoot, va);
    } else if (at + size === e) {
      // RE_FIT_TYPE.
      this.end[va] = at;
      this.propagate(this.freeRoot, va);
    } else {
      // NE_FIT_TYPE: a new block for the left part.
      const obj = newObj();
      if (obj === 0) return -1;
      this.start[va] = at + size;
      this.propagate(this.freeRoot, va);
      this.freeRoot = this.insert(this.freeRoot, this.node(s, at, obj));
    }
    return at;
  }

  /**
   * merge_or_add_vmap_area(): give node `n` back to the free space, merging it with the free blocks
   * right after and right before it; merged-away vmap_area objects go to `freeObj`.
   */
  giveBack(n: number, freeObj: (obj: number) => void): void {
    this.left[n] = NIL;
    this.right[n] = NIL;
    this.max[n] = this.end[n]! - this.start[n]!;
    let va = n;
    let merged = false;
    const next = this.ceil(this.freeRoot, this.start[n]!);
    if (next !== NIL && this.start[next] === this.end[n]) {
      // The block grows to the left; its place among the free blocks stays the same.
      this.start[next] = this.start[n]!;
      this.propagate(this.freeRoot, next);
      freeObj(this.obj[n]!);
      this.release(n);
      va = next;
      merged = true;
    }
    const prev = this.floor(this.freeRoot, this.start[va]! - 1);
    if (prev !== NIL && this.end[prev] === this.start[va]) {
      this.end[prev] = this.end[va]!;
      if (merged) this.freeRoot = this.remove(this.freeRoot, va);
      this.propagate(this.freeRoot, prev);
      freeObj(this.obj[va]!);
      this.release(va);
      return;
    }
    if (!merged) this.freeRoot = this.insert(this.freeRoot, va);
  }

  /** The treap invariants (k.check()): order, no overlap, heap priorities, subtree maxima. */
  verify(root: number, augmented: boolean, what: string, err: string[]): void {
    let lastEnd = -Infinity;
    const walk = (t: number): number => {
      if (t === NIL) return 0;
      const l = this.left[t]!;
      const r = this.right[t]!;
      if ((l !== NIL && this.prio[l]! > this.prio[t]!) || (r !== NIL && this.prio[r]! > this.prio[t]!))
        err.push(`${what}: heap order broken at node ${t}`);
      const ml = walk(l);
      if (this.start[t]! >= this.end[t]!) err.push(`${what}: empty block at page ${this.start[t]}`);
      if (this.start[t]! < lastEnd) err.push(`${what}: blocks overlap at page ${this.start[t]}`);
      if (augmented && this.start[t] === lastEnd) err.push(`${what}: adjacent blocks left unmerged`);
      lastEnd = this.end[t]!;
      const mr = walk(r);
      const m = Math.max(this.end[t]! - this.start[t]!, ml, mr);
      if (augmented && this.max[t] !== m)
        err.push(`${what}: subtree_max_size wrong at page ${this.start[t]}`);
      return m;
    };
    walk(root);
  }
}
