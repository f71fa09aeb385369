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

/** VMALLOC_START..VMALLOC_END (vmalloc_base, 32 TiB; VMALLOC_END is the last byte, as in the kernel). */
export const VMALLOC_START = 0xc90000000000;
export const VMALLOC_END = 0xe8ffffffffff;
/** KERNEL_IMAGE_SIZE with CONFIG_RANDOMIZE_BASE=y (the distro kernels' setting): 1 GiB of kernel text. */
export const KERNEL_IMAGE_SIZE = 0x40000000;
/** MODULES_VADDR = __START_KERNEL_map + KERNEL_IMAGE_SIZE; MODULES_END is fixed below the fixmap. */
export const MODULES_VADDR = START_KERNEL_MAP + KERNEL_IMAGE_SIZE;
export const MODULES_END = 0xffffff000000;

/** is_vmalloc_addr(): VMALLOC_START <= addr < VMALLOC_END. */
export function isVmallocAddr(addr: number): boolean {
  return addr >= VMALLOC_START && addr < VMALLOC_END;
}

/** is_vmalloc_or_module_addr(): the ranges the kernel maps through its own page tables, page by page. */
export function isVmallocOrModuleAddr(addr: number): boolean {
  return isVmallocAddr(addr) || (addr >= MODULES_VADDR && addr < MODULES_END);
}

/** PMD_SIZE: one page-middle-directory entry maps 2 MiB (PMD_SHIFT 21). */
export const PMD_SIZE = 0x200000;
/** VSYSCALL_ADDR (uapi/asm/vsyscall.h, -10 MiB): the legacy vsyscall page, ffffffffff600000. */
export const VSYSCALL_ADDR = 0xffffff600000;
/**
 * FIXADDR_TOP = round_up(VSYSCALL_ADDR + PAGE_SIZE, PMD_SIZE) - PAGE_SIZE (arch/x86/include/asm/fixmap.h, 64-bit):
 * ffffffffff7ff000. Fixmap slot i lives at FIXADDR_TOP - (i << PAGE_SHIFT), so slots grow down from here.
 */
export const FIXADDR_TOP = Math.ceil((VSYSCALL_ADDR + PAGE_SIZE) / PMD_SIZE) * PMD_SIZE - PAGE_SIZE;
/**
 * FIXADDR_SIZE = __end_of_permanent_fixed_addresses << PAGE_SHIFT. The slot count depends on the config; for a
 * 5.4 x86_64 distro config (X86_VSYSCALL_EMULATION, PROVIDE_OHCI1394_DMA_INIT, X86_LOCAL_APIC, X86_IO_APIC,
 * PARAVIRT, ACPI_APEI_GHES; no X86_INTEL_MID) enum fixed_addresses runs VSYSCALL_PAGE = 511, FIX_DBGP_BASE 512,
 * FIX_EARLYCON_MEM_BASE 513, FIX_OHCI1394_BASE 514, FIX_APIC_BASE 515, FIX_IO_APIC_BASE_0..END 516-643
 * (MAX_IO_APICS 128), FIX_PARAVIRT_BOOTMAP 644, FIX_APEI_GHES_IRQ 645, FIX_APEI_GHES_NMI 646: 647 slots, 2588 KiB.
 * No 5.4 boot log with this number was found. The closest real one: a Fedora 4.18 boot-time page-table dump
 * (linux-mm, 2018-08-08, <bd7f3ea4-d9a8-e437-9936-ee4513b47ac1@suse.cz>) starts its "Fixmap Area" at
 * ffffffffff576000 = 649 slots, which includes FIX_TEXT_POKE0/1; 5.2 removed those two slots (text_poke() moved
 * to a temporary mm), giving 647 and FIXADDR_START ffffffffff578000 from 5.2 on (the same value a 5.10 enum
 * printout shows). The APIC slot at ffffffffff5fc000 ("mapped APIC to ffffffffff5fc000" in real boot logs)
 * confirms the slots before it.
 */
export const FIXADDR_SIZE = 647 * PAGE_SIZE;
/** FIXADDR_START = FIXADDR_TOP - FIXADDR_SIZE: ffffffffff578000. */
export const FIXADDR_START = FIXADDR_TOP - FIXADDR_SIZE;
