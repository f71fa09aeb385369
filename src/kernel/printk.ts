// The kernel log buffer (printk/dmesg). Lines carry the `[%5lu.%06lu] ` timestamp of the virtual clock.
import type { Clock } from "./clock.ts";

export const KERN_EMERG = 0;
export const KERN_ALERT = 1;
export const KERN_ERR = 3;
export const KERN_WARNING = 4;
export const KERN_NOTICE = 5;
export const KERN_INFO = 6;
export const KERN_DEBUG = 7;
/** Default message level of a plain printk() without a KERN_ prefix. */
export const MESSAGE_LOGLEVEL_DEFAULT = KERN_WARNING;

/** Time one logged line costs on the virtual clock (a serial console write is far slower; keep logs readable). */
const NS_PER_LINE = 11_000;

export interface LogRecord {
  readonly ns: number;
  readonly level: number;
  readonly text: string;
}

export class LogBuffer {
  readonly records: LogRecord[] = [];
  /** Text of an unterminated line waiting for pr_cont or a newline. */
  private partial = "";
  private partialLevel = MESSAGE_LOGLEVEL_DEFAULT;
  private partialNs = 0;
  /** While booting, the clock stands still until the timekeeping line (like early boot on real hardware). */
  clockRunning = true;
  /** Optional sink for live output (the CLI prints lines as they are logged). */
  onLine: ((r: LogRecord) => void) | null = null;

  constructor(private readonly clock: Clock) {}

  /** Append text at a level; `cont` continues the previous unterminated line (KERN_CONT). */
  emit(level: number, text: string, cont = false): void {
    if (!cont && this.partial !== "") this.flush();
    if (this.partial === "" && !cont) {
      this.partialLevel = level;
      this.partialNs = this.clock.ns;
    }
    const parts = text.split("\n");
    for (let i = 0; i < parts.length; i++) {
      this.partial += parts[i];
      if (i < parts.length - 1) this.flush();
    }
  }

  flush(): void {
    const r = { ns: this.partialNs, level: this.partialLevel, text: this.partial };
    this.records.push(r);
    this.partial = "";
    if (this.clockRunning) this.clock.advance(NS_PER_LINE);
    this.partialNs = this.clock.ns;
    this.onLine?.(r);
  }

  /** dmesg: every record from `from` on, with timestamps. */
  dump(from = 0): string {
    if (this.partial !== "") this.flush();
    let s = "";
    for (let i = from; i < this.records.length; i++)
      s += `${formatStamp(this.records[i]!.ns)}${this.records[i]!.text}\n`;
    return s;
  }
}

export function formatStamp(ns: number): string {
  const sec = Math.floor(ns / 1e9);
  const us = Math.floor((ns % 1e9) / 1e3);
  return `[${String(sec).padStart(5, " ")}.${String(us).padStart(6, "0")}] `;
}

/** Split a KERN_<level> prefix ("\x01" + digit, or "\x01c" for KERN_CONT) off a format string. */
export function parseLevel(fmt: string): { level: number; cont: boolean; body: string } {
  if (fmt.charCodeAt(0) === 1 && fmt.length > 1) {
    const c = fmt[1]!;
    if (c === "c") return { level: MESSAGE_LOGLEVEL_DEFAULT, cont: true, body: fmt.slice(2) };
    if (c >= "0" && c <= "7") return { level: c.charCodeAt(0) - 48, cont: false, body: fmt.slice(2) };
  }
  return { level: MESSAGE_LOGLEVEL_DEFAULT, cont: false, body: fmt };
}

export const KERN = {
  EMERG: "\x010",
  ALERT: "\x011",
  CRIT: "\x012",
  ERR: "\x013",
  WARNING: "\x014",
  NOTICE: "\x015",
  INFO: "\x016",
  DEBUG: "\x017",
  CONT: "\x01c",
} as const;
