// Taint flags and the taint string of 5.4 (print_tainted): 18 slots "PFSRMBUDAWCIOELKXT".

export const TAINT_BAD_PAGE = 5;
export const TAINT_DIE = 7;
export const TAINT_WARN = 9;
export const TAINT_OOT_MODULE = 12;

const LETTERS: ReadonlyArray<readonly [string, string]> = [
  ["P", "G"],
  ["F", " "],
  ["S", " "],
  ["R", " "],
  ["M", " "],
  ["B", " "],
  ["U", " "],
  ["D", " "],
  ["A", " "],
  ["W", " "],
  ["C", " "],
  ["I", " "],
  ["O", " "],
  ["E", " "],
  ["L", " "],
  ["K", " "],
  ["X", " "],
  ["T", " "],
];

export function taintString(mask: number): string {
  if (mask === 0) return "Not tainted";
  let s = "Tainted: ";
  for (let i = 0; i < LETTERS.length; i++) s += (mask >> i) & 1 ? LETTERS[i]![0] : LETTERS[i]![1];
  return s;
}
