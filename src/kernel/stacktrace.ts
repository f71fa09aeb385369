// Call traces for reports. Kernel-internal frames are the names of the kernel functions whose logic the
// engine mirrors on that path; their +0xoff/0xsize are synthetic (a stable hash: there is no machine code
// to measure). Frames of the caller's own code come from the JavaScript stack, and for those the offset
// is the source line number, so a learner can find the line that caused the report.
import { relative } from "node:path";
import { fileURLToPath } from "node:url";

const ENGINE_DIR = fileURLToPath(new URL("..", import.meta.url));

export interface Frame {
  readonly fn: string;
  readonly off: number;
  readonly size: number;
  readonly mod?: string;
  /** For the caller's own frames: the source file, relative to the working directory. */
  readonly file?: string;
}

function hash(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/** A kernel function frame with a stable synthetic offset/size. */
export function kframe(fn: string): Frame {
  const h = hash(fn);
  const size = 0x40 + (h & 0x3ff);
  return { fn, off: (h >>> 12) % size, size };
}

export function formatFrame(f: Frame): string {
  return ` ${f.fn}+0x${f.off.toString(16)}/0x${f.size.toString(16)}${f.mod ? ` [${f.mod}]` : ""}`;
}

/** Frames of the code that called into the engine (outside the engine and outside node/test internals). */
export function callerFrames(mod: string | undefined, limit = 8): Frame[] {
  // Engine frames come first and can be many: look deep enough to reach the caller's own.
  const saved = Error.stackTraceLimit;
  Error.stackTraceLimit = 60;
  const stack = new Error().stack ?? "";
  Error.stackTraceLimit = saved;
  return parseCallerFrames(stack, mod, limit);
}

/** The caller's frames in a V8 stack text (the engine's own frames and node internals skipped). */
export function parseCallerFrames(stack: string, mod: string | undefined, limit: number): Frame[] {
  const out: Frame[] = [];
  for (const line of stack.split("\n").slice(1)) {
    const m = /at (?:async )?(?:(.*?) \()?(.*?):(\d+):(\d+)\)?$/.exec(line.trim());
    if (!m) continue;
    const file = m[2]!.startsWith("file://") ? fileURLToPath(m[2]!) : m[2]!;
    if (file.startsWith(ENGINE_DIR) || file.startsWith("node:") || file.includes("node_modules")) continue;
    // Top-level code has no function name: use the file's base name, as a symbol would be.
    const base = file.replace(/^.*[\\/]/, "").replace(/\.[cm]?[jt]s$/, "");
    // V8 adds " [as key]" when a function was stored under another name: the function's own name counts.
    const raw = (m[1] ?? "")
      .replace(/ \[as [^\]]*\]$/, "")
      .replace(/^Object\.|^Module\./, "")
      .replace(/^.*\./, "");
    const name = raw === "" || raw === "<anonymous>" ? base : raw;
    const lineNo = Number(m[3]);
    const f = kframe(name);
    out.push({
      fn: name,
      off: lineNo,
      size: Math.max(f.size, lineNo + 1),
      mod,
      file: relative(process.cwd(), file),
    });
    if (out.length >= limit) break;
  }
  return out;
}

interface SavedStack {
  /** Holders of the handle (an area and the page array vmalloc'ed for it share one). */
  refs: number;
  /** Filled in by V8; formatted only when read (so saving a stack costs no string work). */
  stack?: string;
  kernelFrames: readonly string[];
  mod: string | undefined;
  tail: readonly string[];
}

/**
 * lib/stackdepot.c in spirit: saved call stacks behind small integer handles (0 = none), for the
 * allocation and free tracks the debug tools keep. The JavaScript stack is captured eagerly but
 * formatted lazily, so recording a track stays cheap until a report needs it.
 */
export class StackDepot {
  private readonly saved: (SavedStack | null)[] = [null];
  private readonly freeHandles: number[] = [];

  save(kernelFrames: readonly string[], mod: string | undefined, tail: readonly string[]): number {
    const s: SavedStack = { refs: 1, kernelFrames, mod, tail };
    // V8 charges per captured frame (about 2 us for 10, 5 us for 40): enough to get past the engine's
    // own frames to the caller's, as the kernel keeps 16 return addresses.
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 20;
    Error.captureStackTrace(s);
    Error.stackTraceLimit = limit;
    const h = this.freeHandles.pop();
    if (h !== undefined) {
      this.saved[h] = s;
      return h;
    }
    this.saved.push(s);
    return this.saved.length - 1;
  }

  /** One more holder of `handle`; returns it. */
  share(handle: number): number {
    const s = this.saved[handle];
    if (s) s.refs++;
    return handle;
  }

  release(handle: number): void {
    const s = handle > 0 && handle < this.saved.length ? this.saved[handle] : null;
    if (s && --s.refs === 0) {
      this.saved[handle] = null;
      this.freeHandles.push(handle);
    }
  }

  /** The saved trace: kernel frames, the caller's frames, then the syscall tail; [] for no handle. */
  frames(handle: number, callerLimit = 8): Frame[] {
    const s = this.saved[handle];
    if (!s) return [];
    return [
      ...s.kernelFrames.map(kframe),
      ...parseCallerFrames(s.stack ?? "", s.mod, callerLimit),
      ...s.tail.map(kframe),
    ];
  }

  /** The first caller frame (the track's "addr": where the allocation was made). */
  caller(handle: number): Frame | null {
    const s = this.saved[handle];
    if (!s) return null;
    return parseCallerFrames(s.stack ?? "", s.mod, 1)[0] ?? (s.tail.length ? kframe(s.tail[0]!) : null);
  }

  /** Live handles (for tests and leak checks). */
  get size(): number {
    return this.saved.length - 1 - this.freeHandles.length;
  }
}
