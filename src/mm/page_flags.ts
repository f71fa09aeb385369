// Page flag bit numbers of Linux 5.4 (enum pageflags, x86_64 with PAT and MEMORY_FAILURE, no idle page
// tracking) and their %pGp names. Bits at and above NR_PAGEFLAGS hold zone/node ids, never printed by name.
import { formatFlagNames } from "./gfp.ts";

export const PG_locked = 0;
export const PG_referenced = 1;
export const PG_uptodate = 2;
export const PG_dirty = 3;
export const PG_lru = 4;
export const PG_active = 5;
export const PG_workingset = 6;
export const PG_waiters = 7;
export const PG_error = 8;
export const PG_slab = 9;
export const PG_owner_priv_1 = 10;
export const PG_arch_1 = 11;
export const PG_reserved = 12;
export const PG_private = 13;
export const PG_private_2 = 14;
export const PG_writeback = 15;
export const PG_head = 16;
export const PG_mappedtodisk = 17;
export const PG_reclaim = 18;
export const PG_swapbacked = 19;
export const PG_unevictable = 20;
export const PG_mlocked = 21;
export const PG_uncached = 22;
export const PG_hwpoison = 23;
export const NR_PAGEFLAGS = 24;

/** Flags that must be clear when a page is freed (free_pages_check). */
export const PAGE_FLAGS_CHECK_AT_FREE =
  (1 << PG_lru) |
  (1 << PG_locked) |
  (1 << PG_private) |
  (1 << PG_private_2) |
  (1 << PG_writeback) |
  (1 << PG_reserved) |
  (1 << PG_slab) |
  (1 << PG_active) |
  (1 << PG_unevictable) |
  (1 << PG_mlocked);

/** Every page flag must be clear when a page is handed out (check_new_page). */
export const PAGE_FLAGS_CHECK_AT_PREP = (1 << NR_PAGEFLAGS) - 1;

/** pageflag_names order (__def_pageflag_names), which is not bit order. */
const PAGE_FLAG_NAMES: ReadonlyArray<readonly [number, string]> = (
  [
    [PG_locked, "locked"],
    [PG_waiters, "waiters"],
    [PG_error, "error"],
    [PG_referenced, "referenced"],
    [PG_uptodate, "uptodate"],
    [PG_dirty, "dirty"],
    [PG_lru, "lru"],
    [PG_active, "active"],
    [PG_workingset, "workingset"],
    [PG_slab, "slab"],
    [PG_owner_priv_1, "owner_priv_1"],
    [PG_arch_1, "arch_1"],
    [PG_reserved, "reserved"],
    [PG_private, "private"],
    [PG_private_2, "private_2"],
    [PG_writeback, "writeback"],
    [PG_head, "head"],
    [PG_mappedtodisk, "mappedtodisk"],
    [PG_reclaim, "reclaim"],
    [PG_swapbacked, "swapbacked"],
    [PG_unevictable, "unevictable"],
    [PG_mlocked, "mlocked"],
    [PG_uncached, "uncached"],
    [PG_hwpoison, "hwpoison"],
  ] as const
).map(([bit, name]) => [1 << bit, name] as const);

/**
 * %pGp of 5.4 (flags_string): drop the zone/node bits above NR_PAGEFLAGS, then print names like %pGg.
 * The caller prints the whole word itself ("flags: %#lx(%pGp)").
 */
export function formatPageFlags(flags: bigint): string {
  return formatFlagNames(Number(BigInt.asUintN(NR_PAGEFLAGS, flags)), PAGE_FLAG_NAMES);
}
