// One boot in a fresh process, for the cold boot time: prints the wall time of boot() in ms.
// Usage: node --import tsx bench/boot-once.ts 64G none
import { boot } from "../src/index.ts";

const [mem = "1G", backing = "none"] = process.argv.slice(2);
if (backing !== "memory" && backing !== "none")
  throw new Error(`backing must be memory or none, got ${backing}`);
const t0 = process.hrtime.bigint();
const k = boot({ mem, backing });
const ms = Number(process.hrtime.bigint() - t0) / 1e6;
if (k.layout.maxPfn <= 0) throw new Error("boot produced no pages");
console.log(ms.toFixed(3));
