// ch9/vmalloc_demo (Linux Kernel Programming, 1st edition, 5.4) as a kmem module: vmalloc() and friends.
// It allocates with vmalloc() (contents not initialised), vzalloc() (zeroed), kvmalloc() of `kvnum`
// bytes (5 MB by default: too big for kmalloc, so it ends up in vmalloc space; small sizes stay with
// kmalloc), kcalloc() (1000 u64s, zeroed) and, as on kernels before 5.8, __vmalloc(42 pages, GFP_KERNEL,
// PAGE_KERNEL_RO): 42 read-only pages. Each pointer is printed (%pK and %px) with its first 16 bytes.
// rmmod frees everything.
//
//   kmem run examples/vmalloc_demo.ts                  (kvnum=5242880: kvmalloc() falls back to vmalloc)
//   kmem run examples/vmalloc_demo.ts kvnum=4096       (kvmalloc() is served by kmalloc: kmalloc-4k)
//   kmem run examples/vmalloc_demo.ts kvnum=8          (refused: kvnum must be >= 16, -EINVAL)
//   kmem run examples/vmalloc_demo.ts wr2romem_bug=1   (writes into the RO pages: Oops, insmod segfaults)
//
// The printk format strings are the book's (pr_fmt "vmalloc_demo:<function>(): "); the hex dumps are
// print_hex_dump_bytes() rows, which do not go through pr_fmt. The module is the 5.4 build of the book's
// source, i.e. the `LINUX_VERSION_CODE < KERNEL_VERSION(5, 8, 0)` branch: __vmalloc() still takes a
// pgprot (commit 88dca4c removed it in 5.8), and exit vfree()s vrx first.
//
// `wr2romem_bug` stands for the book's `#define WR2ROMEM_BUG` (commented out in the book, so the
// parameter defaults to off). With it, step 5 goes on to print step 6's message and do
// `*(u64 *)(vrx + 4) = 0xba`: a supervisor write to a present, read-only PTE, which the kernel reports
// as an Oops (#PF error_code 0x0003, CR2 = vrx + 4) that kills insmod. As on a real kernel, nothing
// allocated before the Oops is ever freed: the module never loaded, so there is no exit to run.
//
// What differs from the kernel: vmalloc() hands out kmem's fresh pages, which usually read as zeros,
// while a real kernel's step 1 dump shows whatever the page frames last held.
import {
  DUMP_PREFIX_NONE,
  EINVAL,
  ENOMEM,
  GFP_KERNEL,
  type Kernel,
  type KernelModule,
  PAGE_KERNEL_RO,
  PAGE_SIZE,
} from "../src/index.ts";

const KBUILD_MODNAME = "vmalloc_demo";

const KVN_MIN_BYTES = 16;
const DISP_BYTES = 16;
/** sizeof(u64) */
const SIZEOF_U64 = 8;

/** pr_fmt(fmt): "%s:%s(): " fmt, KBUILD_MODNAME, __func__ */
const pr_fmt = (func: string, fmt: string) => [`%s:%s(): ${fmt}`, KBUILD_MODNAME, func] as const;

// The module's static globals (kernel addresses; 0 is NULL).
let vptr_rndm = 0;
let vptr_init = 0;
let kv = 0;
let kvarr = 0;
let vrx = 0;

function vmalloc_try(k: Kernel, kvnum: number, wr2romem_bug: boolean): number {
  const func = "vmalloc_try";

  // 1. vmalloc(); mem contents are random
  vptr_rndm = k.vmalloc(10000);
  if (!vptr_rndm) {
    // The pr_warn() below isn't really required; being pedantic here, we keep it.. ditto for the
    // remaining cases below...
    k.pr_warn(...pr_fmt(func, "vmalloc failed\n"));
    return err_out1();
  }
  k.pr_info(...pr_fmt(func, "1. vmalloc():   vptr_rndm = 0x%pK (actual=0x%px)\n"), vptr_rndm, vptr_rndm);
  k.print_hex_dump_bytes(" content: ", DUMP_PREFIX_NONE, vptr_rndm, DISP_BYTES);

  // 2. vzalloc(); mem contents are set to zeroes
  vptr_init = k.vzalloc(10000);
  if (!vptr_init) {
    k.pr_warn(...pr_fmt(func, "vzalloc failed\n"));
    return err_out2(k);
  }
  k.pr_info(...pr_fmt(func, "2. vzalloc():   vptr_init = 0x%pK (actual=0x%px)\n"), vptr_init, vptr_init);
  k.print_hex_dump_bytes(" content: ", DUMP_PREFIX_NONE, vptr_init, DISP_BYTES);

  // 3. kvmalloc(): allocate 'kvnum' bytes (5MB by default) with the kvmalloc(); if kvnum is large
  //    (enough), this will become a vmalloc() under the hood, else it falls back to a kmalloc()
  kv = k.kvmalloc(kvnum, GFP_KERNEL);
  if (!kv) {
    k.pr_warn(...pr_fmt(func, "kvmalloc failed\n"));
    return err_out3(k);
  }
  k.pr_info(
    ...pr_fmt(func, "3. kvmalloc() :        kv = 0x%pK (actual=0x%px)\n    (for %d bytes)\n"),
    kv,
    kv,
    kvnum,
  );
  k.print_hex_dump_bytes(" content: ", DUMP_PREFIX_NONE, kv, KVN_MIN_BYTES);

  // 4. kcalloc(): allocate an array of 1000 64-bit quantities and zero out the memory
  kvarr = k.kcalloc(1000, SIZEOF_U64, GFP_KERNEL);
  if (!kvarr) {
    k.pr_warn(...pr_fmt(func, "kcalloc failed\n"));
    return err_out4(k);
  }
  k.pr_info(...pr_fmt(func, "4. kcalloc() :      kvarr = 0x%pK (actual=0x%px)\n"), kvarr, kvarr);
  k.print_hex_dump_bytes(" content: ", DUMP_PREFIX_NONE, kvarr, DISP_BYTES);

  // 5. __vmalloc(): allocate some 42 pages and set protections to RO (kernels < 5.8 only: commit
  //    88dca4c 'mm: remove the pgprot argument to __vmalloc' removed the pgprot argument in 5.8.0).
  vrx = k.__vmalloc(42 * PAGE_SIZE, GFP_KERNEL, PAGE_KERNEL_RO);
  if (!vrx) {
    k.pr_warn(...pr_fmt(func, "__vmalloc failed\n"));
    return err_out5(k);
  }
  k.pr_info(...pr_fmt(func, "5. __vmalloc():       vrx = 0x%pK (actual=0x%px)\n"), vrx, vrx);

  // Try reading the memory, should be fine
  k.print_hex_dump_bytes(" content: ", DUMP_PREFIX_NONE, vrx, DISP_BYTES);
  if (wr2romem_bug) {
    // #ifdef WR2ROMEM_BUG: try writing to the RO memory! We should, of course, find that the kernel
    // crashes (emits an Oops!)
    k.pr_info(...pr_fmt(func, "6. Attempting to now write into a kernel vmalloc-ed region that's RO!\n"));
    k.write64(vrx + 4, 0xba); // *(u64 *) (vrx + 4) = 0xba;
  }

  return 0; // success
}

// The book's error labels err_out5..err_out1, falling through in reverse order of allocation. The
// book's quirk is kept: err_out5 and err_out4 vfree() the kcalloc()'d and kvmalloc()'d buffers where
// kvfree() is needed. Should one of those paths ever run, kmem reports it as the kernel would: vfree()
// of a kmalloc address WARNs ("Trying to vfree() nonexistent vm area", or "bad address" when it is not
// page aligned) and leaks the buffer. Only the exit path uses kvfree().
function err_out5(k: Kernel): number {
  k.vfree(kvarr);
  return err_out4(k);
}
function err_out4(k: Kernel): number {
  k.vfree(kv);
  return err_out3(k);
}
function err_out3(k: Kernel): number {
  k.vfree(vptr_init);
  return err_out2(k);
}
function err_out2(k: Kernel): number {
  k.vfree(vptr_rndm);
  return err_out1();
}
function err_out1(): number {
  return -ENOMEM;
}

function vmalloc_demo_init(k: Kernel, params: Record<string, unknown>): number {
  const func = "vmalloc_demo_init";
  const kvnum = params.kvnum as number;
  if (kvnum < KVN_MIN_BYTES) {
    k.pr_info(...pr_fmt(func, "kvnum must be >= %d bytes (curr it's %d bytes)\n"), KVN_MIN_BYTES, kvnum);
    return -EINVAL;
  }
  k.pr_info(...pr_fmt(func, "inserted\n"));

  return vmalloc_try(k, kvnum, params.wr2romem_bug as boolean);
}

function vmalloc_demo_exit(k: Kernel): void {
  k.vfree(vrx); // kernels < 5.8 only
  k.kvfree(kvarr);
  k.kvfree(kv);
  k.vfree(vptr_init);
  k.vfree(vptr_rndm);
  k.pr_info(...pr_fmt("vmalloc_demo_exit", "removed\n"));
}

export default {
  name: KBUILD_MODNAME,
  description: "LKP book:ch9/vmalloc_demo/: simple vmalloc() and friends demo lkm",
  license: "Dual MIT/GPL",
  params: {
    kvnum: {
      type: "int",
      default: 5 * 1024 * 1024, // 5 MB
      desc: "number of bytes to allocate with the kvmalloc(); (defaults to 5 MB)",
    },
    wr2romem_bug: {
      type: "bool",
      default: false,
      desc: "kmem: the book's #define WR2ROMEM_BUG: write into the read-only __vmalloc()ed pages (Oops!)",
    },
  },
  init: vmalloc_demo_init,
  exit: vmalloc_demo_exit,
} satisfies KernelModule;
