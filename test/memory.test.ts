// PhysMem's memchr_inv (findNot): the word-at-a-time scan must find exactly the first differing byte.
import { describe, expect, it } from "vitest";
import { PhysMem } from "../src/mm/memory.ts";

describe("PhysMem.findNot", () => {
  it("finds the first byte that differs, at any alignment and length, across chunk ends", () => {
    const m = new PhysMem(16 * 2 ** 20, "memory");
    const base = 4 * 2 ** 20 - 37; // straddles the first chunk boundary
    m.fill(base, 0x6b, 200);
    for (const start of [0, 1, 2, 3, 5, 36, 37, 38]) {
      for (const len of [0, 1, 3, 4, 7, 64, 150]) {
        expect(m.findNot(base + start, 0x6b, len)).toBe(-1);
        for (const at of [0, 1, 2, 3, len - 1]) {
          if (at < 0 || at >= len) continue;
          m.write8(base + start + at, 0x41);
          expect(m.findNot(base + start, 0x6b, len)).toBe(at);
          m.write8(base + start + at, 0x6b);
        }
      }
    }
    // An untouched chunk reads as zeros.
    expect(m.findNot(12 * 2 ** 20, 0, 4096)).toBe(-1);
    expect(m.findNot(12 * 2 ** 20, 0x5a, 4096)).toBe(0);
  });
});
