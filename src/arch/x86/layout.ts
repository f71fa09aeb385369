// x86_64 4-level paging layout with KASLR off (kernel-facts §9). Addresses are JS numbers holding the
// low 48 bits of the virtual address; the canonical upper 16 bits are implied when bit 47 is set.

export const PAGE_SHIFT = 12;
export const PAGE_SIZE = 4096;

/** __PAGE_OFFSET_BASE_L4: the direct map of all RAM (prints as ffff888000000000). */
export const PAGE_OFFSET = 0x888000000000;
/** vmemmap_base: the struct page array; a struct page * is VMEMMAP_START + 64 * pfn. */
export const VMEMMAP_START = 0xea0000000000;
export const STRUCT_PAGE_SIZE = 64;
/** __START_KERNEL_map: the kernel image maps physical 0 here. */
export const START_KERNEL_MAP = 0xffff80000000;

/** MAX_PHYSMEM_BITS 46, SECTION_SIZE_BITS 27: memory sections of 128 MiB. */
export const SECTION_SIZE_BITS = 27;
export const PAGES_PER_SECTION = 1 << (SECTION_SIZE_BITS - PAGE_SHIFT);

/** Pointers that are never valid: NULL and ZERO_SIZE_PTR (kmalloc(0)). */
export const NULL = 0;
export const ZERO_SIZE_PTR = 0x10;

const CANON = 0xffff000000000000n;

/** The 64-bit canonical value of a 48-bit address, as the kernel would hold it. */
export function canonical(addr: number): bigint {
  const v = BigInt(addr);
  return addr >= 0x800000000000 ? v | CANON : v;
}

/** %px: 16 lowercase hex digits, no 0x. */
export function hex16(addr: number): string {
  return canonical(addr).toString(16).padStart(16, "0");
}
