// Kernel command line parsing: `key=value` and bare `flag` words, with quotes allowed around values.

export type Cmdline = ReadonlyMap<string, string>;

export function parseCmdline(text: string): Cmdline {
  const out = new Map<string, string>();
  const re = /(\S+?)(?:=("[^"]*"|\S*))?(?:\s+|$)/g;
  for (let m = re.exec(text.trim()); m && m[0] !== ""; m = re.exec(text)) {
    const v = m[2] ?? "";
    out.set(m[1]!, v.startsWith('"') ? v.slice(1, -1) : v);
  }
  return out;
}

/** memparse(): a size with an optional K/M/G/T suffix. */
export function memparse(s: string | number): number {
  if (typeof s === "number") return s;
  const m = /^\s*(0x[0-9a-f]+|\d+)\s*([kmgtKMGT])?i?[bB]?\s*$/.exec(s);
  if (!m) throw new RangeError(`bad size: ${s}`);
  const n = Number(m[1]);
  const shift = { k: 10, m: 20, g: 30, t: 40 }[(m[2] ?? "").toLowerCase() as "k"] ?? 0;
  return n * 2 ** shift;
}
