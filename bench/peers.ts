// The peer allocators measured next to kmalloc in the same run (see shared/reference/peers.md):
// - AssemblyScript's TLSF (std/assembly/rt/tlsf.ts), compiled at bench start from bench/peers/tlsf.as,
//   a two-function module exporting heap.alloc/heap.free, with the compiler's JS API (compileString, in
//   memory: no .wasm file is written or committed), then instantiated with a 512 MiB initial memory;
// - @thi.ng/malloc's MemPool (a port of tinyalloc) over a 256 MiB ArrayBuffer.
// Both arenas are pre-faulted (one write per 4 KiB page, untimed): on this kind of VM the first write to
// a fresh page costs ~2 us, which would otherwise land in whichever timed batch touches it first.
import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { MemPool } from "@thi.ng/malloc";

/** The two exports of the compiled TLSF module; pointers are byte offsets into its memory (0 = fail). */
export interface TlsfExports {
  alloc(size: number): number;
  free(ptr: number): void;
  memory: WebAssembly.Memory;
}

/** 8192 wasm pages of 64 KiB: 512 MiB, as in peers.md (the heap can still grow with memory.grow). */
const TLSF_INITIAL_PAGES = 8192;
/** @thi.ng/malloc arena: 256 MiB, as in peers.md (50,000 live objects of 8..8191 B need ~60 MiB). */
export const THING_ARENA = 256 * 2 ** 20;

/** Write one byte per 4 KiB page (its own value back), so the OS maps every page before timing. */
export function prefault(buf: ArrayBufferLike, from = 0): void {
  const u8 = new Uint8Array(buf);
  for (let i = from; i < u8.length; i += 4096) u8[i] = u8[i]!;
}

let tlsfModule: WebAssembly.Module | null = null;
let tlsfBytes = 0;
let tlsfCompileMs = 0;

/**
 * The compiler runs in a plain node child process: loaded under tsx's hooks (which map the sources of
 * every module) the compiler and binaryen take ~6 s to load, in plain node ~0.5 s. The child prints the
 * binary as base64; nothing is written to disk.
 */
const COMPILE = `
import asc from "assemblyscript/asc";
import { readFileSync } from "node:fs";
const r = await asc.compileString(
  { "tlsf.ts": readFileSync(process.argv[1], "utf8") },
  { runtime: "minimal", optimizeLevel: 3, shrinkLevel: 0, noAssert: true, initialMemory: ${TLSF_INITIAL_PAGES} },
);
if (r.error || !r.binary) {
  process.stderr.write(String(r.error) + "\\n" + r.stderr.toString());
  process.exit(1);
}
process.stdout.write(Buffer.from(r.binary).toString("base64"));
`;

/** Compile bench/peers/tlsf.as once per process (~1 s; untimed). */
export function compileTlsf(): { bytes: number; ms: number } {
  if (!tlsfModule) {
    const t0 = performance.now();
    const src = fileURLToPath(new URL("./peers/tlsf.as", import.meta.url));
    const out = execFileSync(process.execPath, ["--input-type=module", "-e", COMPILE, src], {
      cwd: fileURLToPath(new URL("..", import.meta.url)),
      encoding: "utf8",
      maxBuffer: 1 << 24,
    });
    const binary = Buffer.from(out, "base64");
    tlsfModule = new WebAssembly.Module(new Uint8Array(binary));
    tlsfBytes = binary.length;
    tlsfCompileMs = performance.now() - t0;
  }
  return { bytes: tlsfBytes, ms: tlsfCompileMs };
}

/** A fresh TLSF instance (own memory), pre-faulted; compileTlsf() must have run. */
export function newTlsf(): TlsfExports {
  if (!tlsfModule) throw new Error("newTlsf: call compileTlsf() first");
  const instance = new WebAssembly.Instance(tlsfModule, {
    env: {
      abort() {
        throw new Error("TLSF: abort");
      },
    },
  });
  const ex = instance.exports as unknown as TlsfExports;
  // The module has no data segment and TLSF sets up its root at the first alloc: writing every page's
  // own byte back changes nothing.
  prefault(ex.memory.buffer);
  return ex;
}

/** A fresh @thi.ng/malloc pool over a pre-faulted arena (defaults: align 8, split, compact). */
export function newThing(bytes = THING_ARENA): MemPool {
  const buf = new ArrayBuffer(bytes);
  prefault(buf);
  return new MemPool({ buf });
}
