// Helpers for tests that read a module's dmesg output line by line: timestamps stripped, lines matched
// as patterns with %px / %p placeholders, call traces taken apart, and allocator counts to cross-check.
import { expect } from "vitest";
import type { Kernel } from "../../src/kernel/kernel.ts";

export const STAMP = /^\[ {0,4}\d+\.\d{6}\] /;
/** A %px address (16 hex digits, no 0x). */
export const PX = "([0-9a-f]{16})";
/** A %p / %pK hashed pointer: 5.4 shows the low 32 bits of the hash, zero-padded to 16 digits. */
export const HASH = "(00000000[0-9a-f]{8})";
export const CUT_HERE = "------------[ cut here ]------------";
export const END_TRACE = /^---\[ end trace [0-9a-f]{16} \]---$/;

/** dmesg text to lines without the `[    1.234567] ` timestamps. */
export function lines(text: string): string[] {
  const out = text.split("\n");
  if (out.at(-1) === "") out.pop();
  return out.map((l) => {
    expect(l).toMatch(STAMP);
    return l.replace(STAMP, "");
  });
}

export function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** A line pattern: literal text where `%A` is a %px address and `%H` a hashed pointer (both captured). */
export function pat(text: string): RegExp {
  return new RegExp(`^${escapeRe(text).replaceAll("%A", PX).replaceAll("%H", HASH)}$`);
}

/** A %px text back to a kmem address number (the engine's addresses are the low 48 bits). */
export function addr(px: string): number {
  return Number(BigInt(`0x${px}`) & 0xffffffffffffn);
}

/** What %p / %pK (kptr_restrict 0) prints for an address on this machine. */
export function hashed(k: Kernel, a: number): string {
  return k.core.printfCtx.hashPointer(a);
}

/** Allocated objects in a cache (by the allocator's allocation bits), over all its slabs. */
export function liveObjects(k: Kernel, cacheName: string): number {
  const s = k.slub.list.find((c) => c.name === cacheName);
  if (!s) return 0;
  return k.slub.slabsOf(s).reduce((n, id) => n + k.slub.liveObjects(s, id), 0);
}

/** The function names of a call trace's frames (" fn+0x1/0x2 [mod]"), from `at` to the end marker. */
export function traceFrames(
  got: readonly string[],
  at: number,
): { fns: string[]; mods: (string | undefined)[]; end: number } {
  expect(got[at]).toBe("Call Trace:");
  const fns: string[] = [];
  const mods: (string | undefined)[] = [];
  let i = at + 1;
  for (; i < got.length; i++) {
    const m = /^ ([\w.]+)\+0x[0-9a-f]+\/0x[0-9a-f]+(?: \[(\w+)\])?$/.exec(got[i]!);
    if (!m) break;
    fns.push(m[1]!);
    mods.push(m[2]);
  }
  return { fns, mods, end: i };
}

/** `want` appears in `fns` in this order (other frames may come between). */
export function expectSubsequence(fns: readonly string[], want: readonly string[]): void {
  let j = 0;
  for (const f of fns) if (f === want[j]) j++;
  expect(j, `frames ${fns.join(" < ")} should contain ${want.join(" < ")} in order`).toBe(want.length);
}
