// The buddy lists exactly as 5.4 moves them: split with expand(), merge in __free_one_page(), list
// head/tail placement, and migratetype fallback with pageblock stealing.
import { describe, expect, it } from "vitest";
import { ALLOC_NOFRAGMENT } from "../src/mm/buddy.ts";
import { MIGRATE_MOVABLE, MIGRATE_RECLAIMABLE, MIGRATE_UNMOVABLE } from "../src/mm/mmzone.ts";
import { NIL } from "../src/mm/page.ts";
import { freeList, synthZone } from "./helpers/machine.ts";

const M = MIGRATE_MOVABLE;
const U = MIGRATE_UNMOVABLE;

describe("split (expand) and merge (__free_one_page)", () => {
  it("one order-3 block: an order-0 allocation leaves one block at each of orders 2, 1, 0", () => {
    const { p, buddy, z } = synthZone(8192);
    buddy.freeOne(z, 0x1000, 3, M);
    expect(Array.from(z.nrFree)).toEqual([0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0]);
    const pfn = buddy.rmqueueSmallest(z, 0, M);
    expect(pfn).toBe(0x1000); // the lower half is kept at every split
    expect(Array.from(z.nrFree)).toEqual([1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0]);
    expect(freeList(p, z, 2, M)).toEqual([0x1004]);
    expect(freeList(p, z, 1, M)).toEqual([0x1002]);
    expect(freeList(p, z, 0, M)).toEqual([0x1001]);
    buddy.freeOne(z, 0x1000, 0, M);
    expect(Array.from(z.nrFree)).toEqual([0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0]);
    expect(freeList(p, z, 3, M)).toEqual([0x1000]);
  });

  it("the search takes the head of the smallest non-empty list", () => {
    const { buddy, z } = synthZone(8192);
    buddy.freeOne(z, 0x100, 2, M);
    buddy.freeOne(z, 0x200, 2, M); // now the head
    buddy.freeOne(z, 0x1000, 3, M);
    expect(buddy.rmqueueSmallest(z, 1, M)).toBe(0x200);
    expect(buddy.rmqueueSmallest(z, 2, M)).toBe(0x100);
    expect(buddy.rmqueueSmallest(z, 0, M)).toBe(0x202);
  });

  it("merges up to order 10 across two pageblocks, and never past MAX_ORDER-1", () => {
    const { p, buddy, z } = synthZone();
    buddy.freeOne(z, 0, 9, M);
    buddy.freeOne(z, 512, 9, U); // a different pageblock type still merges (no isolation)
    expect(Array.from(z.nrFree)).toEqual([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
    buddy.freeOne(z, 1024, 10, M);
    expect(freeList(p, z, 10, U)).toEqual([0]);
    expect(freeList(p, z, 10, M)).toEqual([1024]);
    expect(z.nrFree[10]).toBe(2);
  });

  it("buddy-of-buddy: a block whose merged parent has a free buddy goes to the tail", () => {
    const { p, buddy, z } = synthZone();
    buddy.freeOne(z, 2, 1, M); // parent-of-pfn-0's buddy (pfns 2-3) is free at order 1
    buddy.freeOne(z, 9, 0, M); // another order-0 block, at the head
    buddy.freeOne(z, 0, 0, M); // buddy pfn 1 is not free; higher buddy 2 (order 1) is: tail
    expect(freeList(p, z, 0, M)).toEqual([9, 0]);
    buddy.freeOne(z, 4, 0, M); // buddy 5 busy, higher buddy 6 (order 1) busy: head
    expect(freeList(p, z, 0, M)).toEqual([4, 9, 0]);
  });

  it("order 9 and above never take the tail (order < MAX_ORDER-2 only)", () => {
    const { p, buddy, z } = synthZone();
    buddy.freeOne(z, 2048, 10, M);
    buddy.freeOne(z, 0, 9, M); // its order-10 parent's buddy (1024) is busy anyway
    buddy.freeOne(z, 1536, 9, M);
    expect(freeList(p, z, 9, M)).toEqual([1536, 0]);
  });
});

describe("fallback and stealing (__rmqueue_fallback, steal_suitable_fallback)", () => {
  it("an unmovable request claims a whole order-10 block: both pageblocks become Unmovable", () => {
    const { p, buddy, z } = synthZone();
    buddy.freeOne(z, 0, 10, M);
    buddy.freeOne(z, 1024, 10, M);
    const pfn = buddy.rmqueue(z, 0, U, 0);
    // The largest block is raided first; the head of the order-10 list is the last freed (1024).
    expect(pfn).toBe(1024);
    expect(buddy.pageblockType(1024)).toBe(U);
    expect(buddy.pageblockType(1536)).toBe(U);
    expect(buddy.pageblockType(0)).toBe(M);
    expect(Array.from(z.nrFree)).toEqual([1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1]);
    for (let o = 0; o < 10; o++) expect(freeList(p, z, o, U)).toEqual([1024 + (1 << o)]);
  });

  it("a smaller stolen block converts its pageblock only when free + alike pages reach 256", () => {
    // Movable pageblock 0 with 128 free pages, the rest allocated: for an unmovable request every
    // allocated page of a movable block is "alike", so 128 + 384 >= 256 converts it.
    const { buddy, z } = synthZone();
    buddy.freeOne(z, 0, 7, M);
    expect(buddy.rmqueue(z, 0, U, 0)).toBe(0);
    expect(buddy.pageblockType(0)).toBe(U);
  });

  it("a movable request stealing from an unmovable block with few free pages leaves the block's type", () => {
    // Unmovable pageblock 0 holds one free order-5 block (32 pages); movable requests find no alike pages.
    const { p, buddy, z } = synthZone();
    buddy.setPageblockType(0, U);
    buddy.freeOne(z, 0, 5, U);
    const pfn = buddy.rmqueue(z, 0, M, 0);
    expect(pfn).toBe(0);
    expect(buddy.pageblockType(0)).toBe(U);
    // The whole free part of the block moved to the movable lists (can_steal: order 5 >= pageblock_order/2).
    expect(freeList(p, z, 4, M)).toEqual([16]);
  });

  it("a movable request that may not steal takes the smallest fallback block", () => {
    const { p, buddy, z } = synthZone();
    buddy.setPageblockType(0, MIGRATE_RECLAIMABLE);
    buddy.freeOne(z, 0, 1, MIGRATE_RECLAIMABLE); // order 1 < 4: cannot steal
    buddy.freeOne(z, 64, 3, MIGRATE_RECLAIMABLE);
    const pfn = buddy.rmqueue(z, 0, M, 0);
    expect(pfn).toBe(0); // smallest (order 1), not the order-3 block
    expect(buddy.pageblockType(0)).toBe(MIGRATE_RECLAIMABLE);
    expect(freeList(p, z, 3, MIGRATE_RECLAIMABLE)).toEqual([64]);
  });

  it("fallback order: Unmovable raids Reclaimable before Movable", () => {
    const { buddy, z } = synthZone();
    buddy.freeOne(z, 0, 10, M);
    buddy.setPageblockType(1024, MIGRATE_RECLAIMABLE);
    buddy.freeOne(z, 1024, 0, MIGRATE_RECLAIMABLE);
    expect(buddy.rmqueue(z, 0, U, 0)).toBe(0); // order 10 is scanned first, and only Movable has one
    const b = synthZone();
    b.buddy.setPageblockType(0, MIGRATE_RECLAIMABLE);
    b.buddy.freeOne(b.z, 0, 4, MIGRATE_RECLAIMABLE);
    b.buddy.freeOne(b.z, 1024, 4, M);
    expect(b.buddy.rmqueue(b.z, 0, U, 0)).toBe(0);
  });

  it("ALLOC_NOFRAGMENT only takes whole pageblocks", () => {
    const { buddy, z } = synthZone();
    buddy.freeOne(z, 0, 8, M);
    expect(buddy.rmqueue(z, 0, U, ALLOC_NOFRAGMENT)).toBe(NIL);
    expect(buddy.rmqueue(z, 0, U, 0)).toBe(0);
  });
});
