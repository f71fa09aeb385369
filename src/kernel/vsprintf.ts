// The kernel's printf (lib/vsprintf.c of 5.4): C conversions with length modifiers, plus the %p extensions
// the memory code prints with (%px, %pK, %pa, %pS, %pGg, %pGp, %*pbl, %pV).
import { formatGfp } from "../mm/gfp.ts";
import { formatPageFlags } from "../mm/page_flags.ts";

export interface PrintfContext {
  /** %p: the 16-hex-digit hashed text (ptr_to_id); the caller decides the hash. */
  hashPointer(addr: number): string;
  /** %pK (kernel.kptr_restrict): 0 -> hashed like %p; 1 -> the real address for a task with CAP_SYSLOG,
   * zeros otherwise; 2 -> "0000000000000000". */
  kptrRestrict: number;
  /** Whether the current task has CAP_SYSLOG (root does). */
  capSyslog?: boolean;
  /** %pS: "func+0x1a/0x40 [mod]"; without it addresses print as "0x" + 16 hex digits (no KALLSYMS). */
  symbolize?(addr: number): string;
}

/** struct va_format, the argument of %pV. */
export interface VaFormat {
  readonly fmt: string;
  readonly args: readonly unknown[];
}

// printf_spec flags
const LEFT = 1;
const PLUS = 2;
const SPACE = 4;
const ZEROPAD = 8;
const SPECIAL = 16;

const CH_STAR = 42;
const CH_DOT = 46;
const CH_0 = 48;
const CH_9 = 57;

const ZERO_PTR = "0000000000000000";

export function vsprintf(fmt: string, args: readonly unknown[], ctx: PrintfContext): string {
  let out = "";
  let ai = 0;
  let i = 0;
  while (i < fmt.length) {
    const pct = fmt.indexOf("%", i);
    if (pct < 0) return out + fmt.slice(i);
    out += fmt.slice(i, pct);
    let j = pct + 1;

    // format_decode(): flags, width, precision, qualifier, conversion.
    let flags = 0;
    for (; ; j++) {
      const c = fmt[j];
      if (c === "-") flags |= LEFT;
      else if (c === "+") flags |= PLUS;
      else if (c === " ") flags |= SPACE;
      else if (c === "0") flags |= ZEROPAD;
      else if (c === "#") flags |= SPECIAL;
      else break;
    }
    let width = -1;
    if (fmt.charCodeAt(j) === CH_STAR) {
      width = intArg(args[ai++]);
      if (width < 0) {
        flags |= LEFT;
        width = -width;
      }
      j++;
    } else {
      for (let c = fmt.charCodeAt(j); c >= CH_0 && c <= CH_9; c = fmt.charCodeAt(++j)) {
        width = Math.max(width, 0) * 10 + (c - CH_0);
      }
    }
    let prec = -1;
    if (fmt.charCodeAt(j) === CH_DOT) {
      j++;
      if (fmt.charCodeAt(j) === CH_STAR) {
        prec = Math.max(intArg(args[ai++]), -1);
        j++;
      } else {
        prec = 0;
        for (let c = fmt.charCodeAt(j); c >= CH_0 && c <= CH_9; c = fmt.charCodeAt(++j)) {
          prec = prec * 10 + (c - CH_0);
        }
      }
    }
    // Integer size in bits: int 32, short 16, char 8, long/long long/size_t/ptrdiff_t/intmax_t 64.
    let bits = 32;
    const q = fmt[j];
    if (q === "h" || q === "l") {
      const twice = fmt[j + 1] === q;
      bits = q === "l" ? 64 : twice ? 8 : 16;
      j += twice ? 2 : 1;
    } else if (q === "L" || q === "z" || q === "Z" || q === "t" || q === "j") {
      bits = 64;
      j++;
    }

    const conv = fmt[j++];
    switch (conv) {
      case "%":
        out += "%";
        break;
      case "c": {
        const v = args[ai++];
        out += pad(typeof v === "string" ? v.charAt(0) : String.fromCharCode(intArg(v) & 0xff), width, flags);
        break;
      }
      case "s": {
        const v = args[ai++];
        let s = v == null ? "(null)" : String(v);
        if (prec >= 0 && s.length > prec) s = s.slice(0, prec);
        out += pad(s, width, flags);
        break;
      }
      case "d":
      case "i":
        out += number(args[ai++], bits, true, 10, false, flags, width, prec);
        break;
      case "u":
        out += number(args[ai++], bits, false, 10, false, flags, width, prec);
        break;
      case "x":
      case "X":
        out += number(args[ai++], bits, false, 16, conv === "X", flags, width, prec);
        break;
      case "o":
        out += number(args[ai++], bits, false, 8, false, flags, width, prec);
        break;
      case "p": {
        // Like the kernel, every alphanumeric character after %p belongs to the extension.
        const start = j;
        while (j < fmt.length && isAlnum(fmt.charCodeAt(j))) j++;
        out += pointer(fmt.slice(start, j), args[ai++], width, flags, ctx);
        break;
      }
      default:
        // Unknown conversion (or a lone trailing "%"): print the spec as written.
        out += fmt.slice(pct, j);
    }
    i = j;
  }
  return out;
}

/** The %p family (pointer() in lib/vsprintf.c), dispatched on the extension letters. */
function pointer(ext: string, v: unknown, width: number, flags: number, ctx: PrintfContext): string {
  switch (ext[0]) {
    case "x":
      return pad(ptrHex(v), width, flags);
    case "K":
      // restricted_pointer()
      if (ctx.kptrRestrict === 0) return pad(ctx.hashPointer(addrArg(v)), width, flags);
      return pad(ctx.kptrRestrict === 1 && ctx.capSyslog ? ptrHex(v) : ZERO_PTR, width, flags);
    case "a":
      // phys_addr_t / dma_addr_t: "0x" and all 16 digits, never sign-extended (address_val).
      return v == null ? "(null)" : `0x${hex64(v).padStart(16, "0")}`;
    case "S":
    case "s":
    case "B":
      return pad(symbol(ext[0], v, ctx), width, flags);
    case "G":
      if (v == null) return "(null)";
      if (ext[1] === "g") return formatGfp(intArg(v));
      if (ext[1] === "p") return formatPageFlags(typeof v === "bigint" ? v : BigInt(intArg(v)));
      break;
    case "b":
      if (ext[1] === "l") return v == null ? "(null)" : bitmapList(v, Math.max(width, 0));
      break;
    case "V":
      return v == null ? "(null)" : vsprintf((v as VaFormat).fmt, (v as VaFormat).args, ctx);
  }
  // Plain %p and unsupported extensions print the hashed pointer; 5.4 hashes NULL too.
  return pad(ctx.hashPointer(addrArg(v)), width, flags);
}

/** symbol_string(): %pS "func+off/size [mod]", %ps without the offset, %pB for return addresses. */
function symbol(kind: string, v: unknown, ctx: PrintfContext): string {
  if (!ctx.symbolize) return `0x${ptrHex(v)}`;
  const addr = addrArg(v);
  if (kind === "B") {
    // sprint_backtrace(): look up addr-1 so a call at a function's end names the caller, then report addr.
    const s = ctx.symbolize(addr - 1);
    const plus = s.indexOf("+0x");
    const slash = s.indexOf("/", plus);
    if (plus < 0 || slash < 0) return `0x${ptrHex(v)}`;
    const off = Number.parseInt(s.slice(plus + 3, slash), 16) + 1;
    return `${s.slice(0, plus)}+0x${off.toString(16)}${s.slice(slash)}`;
  }
  const s = ctx.symbolize(addr);
  if (kind === "S") return s;
  const plus = s.indexOf("+0x");
  if (plus < 0) return s;
  const mod = s.indexOf(" [", plus);
  return mod < 0 ? s.slice(0, plus) : s.slice(0, plus) + s.slice(mod);
}

/** bitmap_list_string(): set bits below nbits as "0,2-5"; arg is a bitmask or a collection of bit numbers. */
function bitmapList(v: unknown, nbits: number): string {
  let set: number[];
  if (typeof v === "number" || typeof v === "bigint") {
    set = [];
    let x = BigInt(v);
    for (let b = 0; b < nbits && x !== 0n; b++, x >>= 1n) if (x & 1n) set.push(b);
  } else {
    set = Array.from(v as Iterable<number>)
      .filter((b) => b >= 0 && b < nbits)
      .sort((a, b) => a - b);
  }
  let s = "";
  for (let k = 0; k < set.length; ) {
    const lo = set[k]!;
    let hi = lo;
    while (++k < set.length && set[k]! <= hi + 1) hi = set[k]!;
    s += `${s === "" ? "" : ","}${hi > lo ? `${lo}-${hi}` : lo}`;
  }
  return s;
}

/**
 * number(): cast to the argument's C type, then sign, "0x"/"0" prefix (#), precision digits and width.
 * Plain ints are printed as given unless unsigned and negative (wrapped to 32 bits); h/hh truncate.
 */
function number(
  v: unknown,
  bits: number,
  signed: boolean,
  base: number,
  upper: boolean,
  flags: number,
  width: number,
  prec: number,
): string {
  let neg = false;
  let digits: string;
  if (typeof v === "bigint") {
    const x = signed ? BigInt.asIntN(bits, v) : BigInt.asUintN(bits, v);
    neg = x < 0n;
    digits = (neg ? -x : x).toString(base);
  } else {
    let x = intArg(v);
    if (bits < 32) x = signed ? (x << (32 - bits)) >> (32 - bits) : x & ((1 << bits) - 1);
    if (!signed && x < 0) {
      digits = bits === 32 ? (x >>> 0).toString(base) : BigInt.asUintN(64, BigInt(x)).toString(base);
    } else {
      neg = x < 0;
      digits = (neg ? -x : x).toString(base);
    }
  }
  if (upper) digits = digits.toUpperCase();
  if (digits.length < prec) digits = digits.padStart(prec, "0");

  let head = signed ? (neg ? "-" : flags & PLUS ? "+" : flags & SPACE ? " " : "") : "";
  if (flags & SPECIAL) {
    // The kernel prints "0x0" for %#x of 0, but no extra "0" for %#o of 0.
    if (base === 16) head += upper ? "0X" : "0x";
    else if (base === 8 && digits !== "0") head += "0";
  }
  const fill = width - head.length - digits.length;
  if (fill <= 0) return head + digits;
  if (flags & LEFT) return head + digits + " ".repeat(fill);
  if (flags & ZEROPAD) return head + "0".repeat(fill) + digits;
  return " ".repeat(fill) + head + digits;
}

/** Space padding to the field width, on the right with "-". */
function pad(s: string, width: number, flags: number): string {
  if (s.length >= width) return s;
  return flags & LEFT ? s.padEnd(width, " ") : s.padStart(width, " ");
}

/** A virtual address as %px prints it: 16 digits, canonical (bit 47 sign-extended into the top 16 bits). */
function ptrHex(v: unknown): string {
  if (typeof v === "number" && v >= 0x8000_0000_0000 && v < 0x1_0000_0000_0000) {
    return `ffff${v.toString(16).padStart(12, "0")}`;
  }
  if (typeof v === "bigint" && v >= 0x8000_0000_0000n && v < 0x1_0000_0000_0000n) {
    return `ffff${v.toString(16).padStart(12, "0")}`;
  }
  return hex64(v).padStart(16, "0");
}

/** Hex of a value taken as a 64-bit unsigned word. */
function hex64(v: unknown): string {
  if (typeof v === "bigint") return BigInt.asUintN(64, v).toString(16);
  const x = intArg(v);
  return x < 0 ? BigInt.asUintN(64, BigInt(x)).toString(16) : x.toString(16);
}

/** The 48-bit address the context's hash and symbol lookups take. */
function addrArg(v: unknown): number {
  return typeof v === "bigint" ? Number(BigInt.asUintN(48, v)) : intArg(v);
}

function intArg(v: unknown): number {
  if (typeof v === "number") return Math.trunc(v) || 0;
  if (typeof v === "bigint") return Number(v);
  return v == null ? 0 : Math.trunc(Number(v)) || 0;
}

function isAlnum(c: number): boolean {
  return (c >= CH_0 && c <= CH_9) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
}
