// Kernel memory access through the direct map (the contract's read/write/memset/memcpy). An address that
// is not mapped faults: the Oops report, then the access is abandoned (a read has no value to return, so
// it always throws KernelOops; a module call ends either way).
import { hex16, PAGE_OFFSET } from "../arch/x86/layout.ts";
import type { Core } from "../kernel/core.ts";
import type { PhysMem } from "./memory.ts";

export class MemoryAccess {
  constructor(
    private readonly core: Core,
    private readonly mem: PhysMem,
    private readonly physEnd: number,
  ) {}

  /** The physical address of [addr, addr+n); a fault reports and throws. */
  private phys(addr: number, n: number, write: boolean, fn: string): number {
    const phys = addr - PAGE_OFFSET;
    if (phys >= 0 && phys + n <= this.physEnd && Number.isInteger(addr)) return phys;
    if (typeof addr !== "number" || !Number.isFinite(addr))
      throw new TypeError(`${fn}: address must be a number`);
    // The first byte that is not mapped is the one the CPU reports.
    const bad = phys >= 0 && phys < this.physEnd ? PAGE_OFFSET + this.physEnd : addr;
    this.core.oops(hex16(Math.max(0, Math.floor(bad))), write, "", true);
    return -1;
  }

  read8(a: number): number {
    return this.mem.read8(this.phys(a, 1, false, "read8"));
  }
  read16(a: number): number {
    return this.mem.read16(this.phys(a, 2, false, "read16"));
  }
  read32(a: number): number {
    return this.mem.read32(this.phys(a, 4, false, "read32"));
  }
  read64(a: number): bigint {
    return this.mem.read64(this.phys(a, 8, false, "read64"));
  }
  write8(a: number, v: number): void {
    this.mem.write8(this.phys(a, 1, true, "write8"), v);
  }
  write16(a: number, v: number): void {
    this.mem.write16(this.phys(a, 2, true, "write16"), v);
  }
  write32(a: number, v: number): void {
    this.mem.write32(this.phys(a, 4, true, "write32"), v);
  }
  write64(a: number, v: bigint): void {
    this.mem.write64(this.phys(a, 8, true, "write64"), v);
  }
  memset(a: number, c: number, n: number): void {
    if (n > 0) this.mem.fill(this.phys(a, n, true, "memset"), c & 0xff, n);
  }
  memcpy(dst: number, src: number, n: number): void {
    if (n <= 0) return;
    const s = this.phys(src, n, false, "memcpy");
    this.mem.copy(this.phys(dst, n, true, "memcpy"), s, n);
  }
  readBytes(a: number, n: number): Uint8Array {
    return n > 0 ? this.mem.readBytes(this.phys(a, n, false, "readBytes"), n) : new Uint8Array(0);
  }
  writeBytes(a: number, bytes: Uint8Array): void {
    if (bytes.length > 0) this.mem.writeBytes(this.phys(a, bytes.length, true, "writeBytes"), bytes);
  }
}
