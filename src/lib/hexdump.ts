// lib/hexdump.c: hex_dump_to_buffer() and print_hex_dump() row layout. One row holds `rowsize` bytes as
// two-digit hex in groups of `groupsize` bytes, then (with ascii) the bytes as text in a column that starts
// where a full row's hex would end plus two spaces; non-printable bytes show as '.'.

export const DUMP_PREFIX_NONE = 0;
export const DUMP_PREFIX_ADDRESS = 1;
export const DUMP_PREFIX_OFFSET = 2;

/** One row of hex_dump_to_buffer() for groupsize 1 (the only size the allocators' reports use). */
export function hexDumpRow(
  buf: Uint8Array,
  start: number,
  len: number,
  rowsize: number,
  ascii: boolean,
): string {
  let s = "";
  for (let j = 0; j < len; j++) {
    if (j) s += " ";
    s += buf[start + j]!.toString(16).padStart(2, "0");
  }
  if (!ascii) return s;
  const column = rowsize * 3 + 1;
  s = s.padEnd(column, " ");
  for (let j = 0; j < len; j++) {
    const c = buf[start + j]!;
    s += c >= 0x20 && c < 0x7f ? String.fromCharCode(c) : ".";
  }
  return s;
}

/**
 * print_hex_dump()'s lines: `prefix` then, per prefix type, nothing, the row's address through `addrFmt`
 * (%p: hashed or raw, as the caller's kernel prints it) followed by ": ", or the offset as %.8x followed
 * by ": ".
 */
export function hexDumpLines(
  prefix: string,
  prefixType: number,
  rowsize: number,
  buf: Uint8Array,
  addr: number,
  ascii: boolean,
  addrFmt: (a: number) => string,
): string[] {
  if (rowsize !== 16 && rowsize !== 32) rowsize = 16;
  const out: string[] = [];
  for (let i = 0; i < buf.length; i += rowsize) {
    const len = Math.min(rowsize, buf.length - i);
    const row = hexDumpRow(buf, i, len, rowsize, ascii);
    if (prefixType === DUMP_PREFIX_ADDRESS) out.push(`${prefix}${addrFmt(addr + i)}: ${row}`);
    else if (prefixType === DUMP_PREFIX_OFFSET)
      out.push(`${prefix}${i.toString(16).padStart(8, "0")}: ${row}`);
    else out.push(`${prefix}${row}`);
  }
  return out;
}
