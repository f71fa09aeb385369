// A deterministic virtual clock: time advances only when the simulated kernel says so (each printk
// line, msleep, module load), so logs and rate limits are reproducible run after run.

export const HZ = 250;
export const NSEC_PER_SEC = 1_000_000_000;

export class Clock {
  /** Nanoseconds since boot. */
  ns = 0;
  /** Jiffies start at INITIAL_JIFFIES (-300 s) on Linux; we count from 0 at boot for readability. */
  get jiffies(): number {
    return Math.floor((this.ns * HZ) / NSEC_PER_SEC);
  }
  advance(ns: number): void {
    this.ns += ns;
  }
}
