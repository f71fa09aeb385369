// Kernel memory access (the contract's read/write/memset/memcpy). Direct-map addresses go straight to
// their page frame; vmalloc and module addresses go through the kernel page tables, page by page, with a
// one-entry TLB in front of them (flushed whenever a mapping goes away). An address nothing maps, a
// guard page, or a write to a read-only page faults: the Oops report, then the access is abandoned (a
// read has no value to return, so it always throws KernelOops; a module call ends either way).
import { hex16, isVmallocOrModuleAddr, PAGE_OFFSET, PAGE_SIZE } from "../arch/x86/layout.ts";
import { _PAGE_PRESENT, _PAGE_RW, type PageTables } from "../arch/x86/pgtable.ts";
import type { Core } from "../kernel/core.ts";
import type { PhysMem } from "./memory.ts";

export class MemoryAccess {
  /**
   * The TLB: the last page translated, as the byte window [tlbLo, tlbHi) it covers (tlbWHi = tlbHi when
   * it may be written, else tlbLo) and the distance from a virtual address in it to the physical one.
   */
  private tlbLo = -1;
  private tlbHi = -1;
  private tlbWHi = -1;
  private tlbDelta = 0;

  constructor(
    private readonly core: Core,
    private readonly mem: PhysMem,
    private readonly physEnd: number,
    private readonly pt: PageTables,
  ) {
    pt.onFlush = () => {
      this.tlbLo = this.tlbHi = this.tlbWHi = -1;
    };
  }

  /**
   * The physical address of [addr, addr+n), which must not cross a page outside the direct map (-1 then:
   * the caller goes byte by byte or page by page). A fault reports and throws.
   */
  private translate(addr: number, n: number, write: boolean, fn: string): number {
    if (typeof addr !== "number" || !Number.isInteger(addr))
      throw new TypeError(`${fn}: address must be an integer`);
    const phys = addr - PAGE_OFFSET;
    if (phys >= 0 && phys + n <= this.physEnd) return phys;
    if (isVmallocOrModuleAddr(addr)) {
      const vpage = Math.floor(addr / PAGE_SIZE);
      const off = addr - vpage * PAGE_SIZE;
      if (off + n > PAGE_SIZE) return -1;
      const pte = this.pt.lookup(vpage);
      const flags = pte % 4096;
      if (flags & _PAGE_PRESENT && (!write || flags & _PAGE_RW)) {
        this.tlbLo = vpage * PAGE_SIZE;
        this.tlbHi = this.tlbLo + PAGE_SIZE;
        this.tlbWHi = flags & _PAGE_RW ? this.tlbHi : this.tlbLo;
        this.tlbDelta = pte - flags - this.tlbLo;
        return addr + this.tlbDelta;
      }
      const pf = { protection: (flags & _PAGE_PRESENT) !== 0, walk: this.pt.walk(vpage) };
      this.core.oops(hex16(addr), write, "", true, pf);
      return -1;
    }
    // The first byte that is not mapped is the one the CPU reports.
    const bad = phys >= 0 && phys < this.physEnd ? PAGE_OFFSET + this.physEnd : addr;
    this.core.oops(hex16(Math.max(0, bad)), write, "", true);
    return -1;
  }

  /** A read of n <= 4 bytes that is not a whole direct-map access. */
  private readSlow(a: number, n: number, fn: string): number {
    const p = this.translate(a, n, false, fn);
    if (p >= 0) return n === 1 ? this.mem.read8(p) : n === 2 ? this.mem.read16(p) : this.mem.read32(p);
    let v = 0;
    for (let i = 0; i < n; i++) v += this.mem.read8(this.translate(a + i, 1, false, fn)) * 2 ** (8 * i);
    return v;
  }

  /** A write of n <= 4 bytes that is not a whole direct-map access (bytes before a fault are written). */
  private writeSlow(a: number, n: number, v: number, fn: string): void {
    const p = this.translate(a, n, true, fn);
    if (p >= 0) {
      if (n === 1) this.mem.write8(p, v);
      else if (n === 2) this.mem.write16(p, v);
      else this.mem.write32(p, v);
      return;
    }
    for (let i = 0; i < n; i++) this.mem.write8(this.translate(a + i, 1, true, fn), (v >>> (8 * i)) & 0xff);
  }

  /** Visit [a, a+n) one page-bounded piece at a time: `each(phys, len, done)`. */
  private pieces(
    a: number,
    n: number,
    write: boolean,
    fn: string,
    each: (p: number, len: number, done: number) => void,
  ): void {
    for (let done = 0; done < n; ) {
      const at = a + done;
      const len = Math.min(n - done, PAGE_SIZE - (at % PAGE_SIZE));
      each(this.translate(at, len, write, fn), len, done);
      done += len;
    }
  }

  private direct(a: number, n: number): number {
    const p = a - PAGE_OFFSET;
    return p >= 0 && p + n <= this.physEnd && Number.isInteger(a) ? p : -1;
  }

  read8(a: number): number {
    const p = a - PAGE_OFFSET;
    if (p >= 0 && p + 1 <= this.physEnd && Number.isInteger(a)) return this.mem.read8(p);
    if (a >= this.tlbLo && a + 1 <= this.tlbHi && Number.isInteger(a))
      return this.mem.read8(a + this.tlbDelta);
    return this.readSlow(a, 1, "read8");
  }
  read16(a: number): number {
    const p = a - PAGE_OFFSET;
    if (p >= 0 && p + 2 <= this.physEnd && Number.isInteger(a)) return this.mem.read16(p);
    if (a >= this.tlbLo && a + 2 <= this.tlbHi && Number.isInteger(a))
      return this.mem.read16(a + this.tlbDelta);
    return this.readSlow(a, 2, "read16");
  }
  read32(a: number): number {
    const p = a - PAGE_OFFSET;
    if (p >= 0 && p + 4 <= this.physEnd && Number.isInteger(a)) return this.mem.read32(p);
    if (a >= this.tlbLo && a + 4 <= this.tlbHi && Number.isInteger(a))
      return this.mem.read32(a + this.tlbDelta);
    return this.readSlow(a, 4, "read32");
  }
  read64(a: number): bigint {
    const p = this.direct(a, 8);
    if (p >= 0) return this.mem.read64(p);
    const lo = this.readSlow(a, 4, "read64");
    return BigInt(lo) | (BigInt(this.readSlow(a + 4, 4, "read64")) << 32n);
  }
  write8(a: number, v: number): void {
    const p = a - PAGE_OFFSET;
    if (p >= 0 && p + 1 <= this.physEnd && Number.isInteger(a)) this.mem.write8(p, v);
    else if (a >= this.tlbLo && a + 1 <= this.tlbWHi && Number.isInteger(a))
      this.mem.write8(a + this.tlbDelta, v);
    else this.writeSlow(a, 1, v, "write8");
  }
  write16(a: number, v: number): void {
    const p = a - PAGE_OFFSET;
    if (p >= 0 && p + 2 <= this.physEnd && Number.isInteger(a)) this.mem.write16(p, v);
    else if (a >= this.tlbLo && a + 2 <= this.tlbWHi && Number.isInteger(a))
      this.mem.write16(a + this.tlbDelta, v);
    else this.writeSlow(a, 2, v, "write16");
  }
  write32(a: number, v: number): void {
    const p = a - PAGE_OFFSET;
    if (p >= 0 && p + 4 <= this.physEnd && Number.isInteger(a)) this.mem.write32(p, v);
    else if (a >= this.tlbLo && a + 4 <= this.tlbWHi && Number.isInteger(a))
      this.mem.write32(a + this.tlbDelta, v);
    else this.writeSlow(a, 4, v, "write32");
  }
  write64(a: number, v: bigint): void {
    const p = this.direct(a, 8);
    if (p >= 0) {
      this.mem.write64(p, v);
      return;
    }
    const u = BigInt.asUintN(64, v);
    this.writeSlow(a, 4, Number(u & 0xffffffffn), "write64");
    this.writeSlow(a + 4, 4, Number(u >> 32n), "write64");
  }
  memset(a: number, c: number, n: number): void {
    if (n <= 0) return;
    const p = this.direct(a, n);
    if (p >= 0) this.mem.fill(p, c & 0xff, n);
    else this.pieces(a, n, true, "memset", (q, len) => this.mem.fill(q, c & 0xff, len));
  }
  memcpy(dst: number, src: number, n: number): void {
    if (n <= 0) return;
    const s = this.direct(src, n);
    const d = this.direct(dst, n);
    if (s >= 0 && d >= 0) this.mem.copy(d, s, n);
    else this.writeBytes(dst, this.readBytes(src, n));
  }
  readBytes(a: number, n: number): Uint8Array {
    if (n <= 0) return new Uint8Array(0);
    const p = this.direct(a, n);
    if (p >= 0) return this.mem.readBytes(p, n);
    const out = new Uint8Array(n);
    this.pieces(a, n, false, "readBytes", (q, len, done) => out.set(this.mem.readBytes(q, len), done));
    return out;
  }
  writeBytes(a: number, bytes: Uint8Array): void {
    if (bytes.length === 0) return;
    const p = this.direct(a, bytes.length);
    if (p >= 0) this.mem.writeBytes(p, bytes);
    else
      this.pieces(a, bytes.length, true, "writeBytes", (q, len, done) =>
        this.mem.writeBytes(q, bytes.subarray(done, done + len)),
      );
  }
}
