// Physical memory: real bytes in 4 MiB chunks, each an ArrayBuffer created on first write (smaller than the
// kernel's 128 MiB memory sections, so a machine pays only for the memory it touches). Untouched sections read as zero. With backing "none" no bytes exist at all (metadata-only
// machines larger than this host): reads give 0 and writes are dropped.
/** Bytes per backing chunk: 4 MiB. */
export const CHUNK_SHIFT = 22;
export const CHUNK_BYTES = 2 ** CHUNK_SHIFT;
/** 1 / CHUNK_BYTES (exact): multiplying is cheaper than dividing on hot paths. */
export const INV_CHUNK = 2 ** -CHUNK_SHIFT;
const CHUNK_MASK = CHUNK_BYTES - 1;

export type Backing = "memory" | "none";

export class PhysMem {
  /** Per-section byte views; null until the section is first written. */
  readonly bytes: (Uint8Array | null)[];
  readonly views: (DataView | null)[];
  /** 32-bit views of the same sections, for the allocators' own 8-byte-aligned pointer words. */
  readonly words: (Uint32Array | null)[];
  /** With backing "none": the pointer words the allocators keep inside free memory (SLUB free pointers). */
  private readonly sparsePtrs = new Map<number, number>();

  constructor(
    readonly endPhys: number,
    readonly backing: Backing,
  ) {
    const n = Math.ceil(endPhys / CHUNK_BYTES);
    this.bytes = new Array(n).fill(null);
    this.views = new Array(n).fill(null);
    this.words = new Array(n).fill(null);
  }

  private section(phys: number): Uint8Array | null {
    const s = Math.floor(phys / CHUNK_BYTES);
    let b = this.bytes[s]!;
    if (b === null && this.backing === "memory") {
      b = new Uint8Array(CHUNK_BYTES);
      this.bytes[s] = b;
      this.views[s] = new DataView(b.buffer);
      this.words[s] = new Uint32Array(b.buffer);
    }
    return b;
  }

  /**
   * A kernel pointer stored at an 8-byte-aligned physical address: the 48-bit address number (canonical
   * upper bits dropped), 0 for NULL. Metadata-only machines keep these words aside, so the allocators work
   * the same with no bytes behind them.
   */
  readPtr(phys: number): number {
    const w = this.words[Math.floor(phys / CHUNK_BYTES)];
    if (!w) return this.sparsePtrs.get(phys) ?? 0;
    const i = (phys & CHUNK_MASK) >>> 2;
    return (w[i + 1]! & 0xffff) * 4294967296 + w[i]!;
  }

  /** Store a kernel pointer (canonical 64-bit form: upper 16 bits set for kernel-half addresses). */
  writePtr(phys: number, v: number): void {
    const s = Math.floor(phys / CHUNK_BYTES);
    const w = this.words[s] ?? (this.section(phys) ? this.words[s]! : null);
    if (!w) {
      if (v === 0) this.sparsePtrs.delete(phys);
      else this.sparsePtrs.set(phys, v);
      return;
    }
    const i = (phys & CHUNK_MASK) >>> 2;
    const hi = Math.floor(v / 4294967296);
    w[i] = v >>> 0;
    w[i + 1] = hi >= 0x8000 ? (hi | 0xffff0000) >>> 0 : hi;
  }

  /** Offset of the first byte in [phys, phys+n) that is not `value`, or -1 (memchr_inv). */
  findNot(phys: number, value: number, n: number): number {
    let done = 0;
    while (done < n) {
      const p = phys + done;
      const off = p & CHUNK_MASK;
      const len = Math.min(n - done, CHUNK_BYTES - off);
      const ci = Math.floor(p / CHUNK_BYTES);
      const b = this.bytes[ci];
      if (!b) {
        if (value !== 0) return done;
      } else {
        // Four bytes at a time once aligned (the debug checks scan whole objects), bytes at the edges.
        const w = this.words[ci]!;
        const pattern = Math.imul(value & 0xff, 0x01010101) >>> 0;
        let i = 0;
        while (i < len && (off + i) & 3) {
          if (b[off + i] !== value) return done + i;
          i++;
        }
        while (i + 4 <= len && w[(off + i) >>> 2] === pattern) i += 4;
        for (; i < len; i++) if (b[off + i] !== value) return done + i;
      }
      done += len;
    }
    return -1;
  }

  /** Bytes actually allocated on the host (for the README's numbers). */
  get residentBytes(): number {
    let n = 0;
    for (const b of this.bytes) if (b) n += b.byteLength;
    return n;
  }

  read8(phys: number): number {
    const b = this.bytes[Math.floor(phys / CHUNK_BYTES)];
    return b ? b[phys & CHUNK_MASK]! : 0;
  }
  read16(phys: number): number {
    if ((phys & CHUNK_MASK) > CHUNK_MASK - 1) return this.read8(phys) | (this.read8(phys + 1) << 8);
    const v = this.views[Math.floor(phys / CHUNK_BYTES)];
    return v ? v.getUint16(phys & CHUNK_MASK, true) : 0;
  }
  read32(phys: number): number {
    if ((phys & CHUNK_MASK) > CHUNK_MASK - 3) return this.read16(phys) | (this.read16(phys + 2) << 16);
    const v = this.views[Math.floor(phys / CHUNK_BYTES)];
    return v ? v.getUint32(phys & CHUNK_MASK, true) : 0;
  }
  read64(phys: number): bigint {
    return BigInt(this.read32(phys) >>> 0) | (BigInt(this.read32(phys + 4) >>> 0) << 32n);
  }

  write8(phys: number, v: number): void {
    const b = this.section(phys);
    if (b) b[phys & CHUNK_MASK] = v;
  }
  write16(phys: number, v: number): void {
    if ((phys & CHUNK_MASK) > CHUNK_MASK - 1) {
      this.write8(phys, v);
      this.write8(phys + 1, v >> 8);
      return;
    }
    if (this.section(phys)) this.views[Math.floor(phys / CHUNK_BYTES)]!.setUint16(phys & CHUNK_MASK, v, true);
  }
  write32(phys: number, v: number): void {
    if ((phys & CHUNK_MASK) > CHUNK_MASK - 3) {
      this.write16(phys, v);
      this.write16(phys + 2, v >>> 16);
      return;
    }
    if (this.section(phys)) this.views[Math.floor(phys / CHUNK_BYTES)]!.setUint32(phys & CHUNK_MASK, v, true);
  }
  write64(phys: number, v: bigint): void {
    const u = BigInt.asUintN(64, v);
    this.write32(phys, Number(u & 0xffffffffn));
    this.write32(phys + 4, Number(u >> 32n));
  }

  /** memset over [phys, phys+n), section by section. */
  fill(phys: number, c: number, n: number): void {
    while (n > 0) {
      const off = phys & CHUNK_MASK;
      const len = Math.min(n, CHUNK_BYTES - off);
      const s = Math.floor(phys / CHUNK_BYTES);
      // Zero-filling a never-written section changes nothing observable: keep it unallocated.
      if ((c & 0xff) !== 0 || this.bytes[s]) this.section(phys)?.fill(c, off, off + len);
      phys += len;
      n -= len;
    }
  }

  readBytes(phys: number, n: number): Uint8Array {
    const out = new Uint8Array(n);
    let done = 0;
    while (done < n) {
      const p = phys + done;
      const off = p & CHUNK_MASK;
      const len = Math.min(n - done, CHUNK_BYTES - off);
      const b = this.bytes[Math.floor(p / CHUNK_BYTES)];
      if (b) out.set(b.subarray(off, off + len), done);
      done += len;
    }
    return out;
  }

  writeBytes(phys: number, src: Uint8Array): void {
    let done = 0;
    while (done < src.length) {
      const p = phys + done;
      const off = p & CHUNK_MASK;
      const len = Math.min(src.length - done, CHUNK_BYTES - off);
      this.section(p)?.set(src.subarray(done, done + len), off);
      done += len;
    }
  }

  /** memmove semantics, like the kernel's memcpy on overlapping ranges in practice. */
  copy(dst: number, src: number, n: number): void {
    this.writeBytes(dst, this.readBytes(src, n));
  }
}
