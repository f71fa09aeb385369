// The book's shared helper library, klib_llkd.c (Linux Kernel Programming, 1st edition, 5.4), as kmem
// code: show_phy_pages() and powerof(). The book links this file into several ch8 modules; here they
// import it. The printk format strings are the book's, unchanged (64-bit variants). Also snprintf(),
// which the book's modules get from the kernel itself.
import type { Kernel } from "../src/index.ts";
import { PAGE_SHIFT, PAGE_SIZE } from "../src/index.ts";
import { vsprintf } from "../src/kernel/vsprintf.ts";

/** The 64-bit header line of the 1st edition (the 2nd edition widened the columns). */
const HDR_64 = "-pg#-  -------va-------     --------pa--------   --PFN--\n";

/**
 * show_phy_pages - show the virtual and physical address and the PFN of each page of a range.
 *
 * The start address must be a lowmem (direct-mapped) kernel address, as in the book: every page is
 * translated with virt_to_phys(). With `contiguity_check` on, the walk stops at the first page whose
 * PFN does not follow the previous one. The number of rows is len/PAGE_SIZE, plus one for a partial page.
 */
export function show_phy_pages(
  k: Kernel,
  kaddr: number,
  len: number,
  contiguity_check: boolean | number,
): void {
  const func = "show_phy_pages";
  const vaddr = kaddr;
  let loops = Math.trunc(len / PAGE_SIZE); // int loops = len/PAGE_SIZE
  let prev_pfn = 1;

  // CONFIG_X86: refuse anything outside the direct map.
  if (!k.virt_addr_valid(vaddr)) {
    k.pr_info("%s(): invalid virtual address (0x%px)\n", func, vaddr);
    return;
  }

  k.pr_info(
    "%s(): start kaddr %px, len %zu, contiguity_check is %s\n",
    func,
    vaddr,
    len,
    contiguity_check ? "on" : "off",
  );
  k.pr_info("%s", HDR_64);
  if (len % PAGE_SIZE) loops++;
  for (let i = 0; i < loops; i++) {
    const pa = k.virt_to_phys(vaddr + i * PAGE_SIZE);
    const pfn = Math.floor(pa / 2 ** PAGE_SHIFT); // PHYS_PFN(pa)

    if (contiguity_check) {
      if (i && pfn !== prev_pfn + 1) {
        k.pr_notice(" *** physical NON-contiguity detected (i=%d) ***\n", i);
        break;
      }
    }
    // The book prints the real address (%px), not a hashed %pK, on purpose: this is a demo.
    k.pr_info("%05d  0x%px   %pa   %ld\n", i, vaddr + i * PAGE_SIZE, pa, pfn);
    if (contiguity_check) prev_pfn = pfn;
  }
}

/**
 * powerof - base to the power of exponent, as the u64 the book's helper returns: 0 for base 0,
 * -1UL (2^64 - 1) for a negative base or exponent, 1 for exponent 0.
 */
export function powerof(base: number, exponent: number): bigint {
  let res = 1n;
  if (base === 0) return 0n; // 0^e = 0
  if (base <= 0 || exponent < 0) return BigInt.asUintN(64, -1n);
  if (exponent === 0) return 1n; // b^0 = 1
  while (exponent--) res = BigInt.asUintN(64, res * BigInt(base));
  return res;
}

/**
 * snprintf(buf, size, fmt, ...) into kernel memory, with the kernel's printf (lib/vsprintf.c): at most
 * size - 1 characters, then a NUL; returns the length the whole text would have had. Not part of the
 * book's library: the book's modules call the kernel's own snprintf(), which kmem's Kernel does not offer.
 */
export function snprintf(k: Kernel, buf: number, size: number, fmt: string, ...args: unknown[]): number {
  const text = vsprintf(fmt, args, k.core.printfCtx);
  if (size <= 0) return text.length;
  const bytes = new TextEncoder().encode(text).subarray(0, size - 1);
  k.writeBytes(buf, bytes);
  k.write8(buf + bytes.length, 0);
  return text.length;
}
