// /sys/kernel/slab/<cache>/<attribute> (mm/slub.c, CONFIG_SLUB_DEBUG + CONFIG_SYSFS, 5.4). One directory
// per cache. A cache that can never be merged is named after itself; a mergeable one lives under an id
// made of its merge-relevant flags and slot size (":0000064", ":a-0000128") and its name, like every
// alias merged into it, is a symlink to that directory. Reads print what the kernel's show functions
// print; `validate`, `shrink`, `min_partial` and `cpu_partial` can be written.
import { FsError } from "../../kernel/errors.ts";
import type { Kernel } from "../../kernel/kernel.ts";
import { kframe } from "../../kernel/stacktrace.ts";
import { vsprintf } from "../../kernel/vsprintf.ts";
import type { KmemCache } from "../../mm/slub/cache.ts";
import {
  SLAB_ACCOUNT,
  SLAB_CACHE_DMA,
  SLAB_CACHE_DMA32,
  SLAB_CONSISTENCY_CHECKS,
  SLAB_HWCACHE_ALIGN,
  SLAB_NEVER_MERGE,
  SLAB_POISON,
  SLAB_RECLAIM_ACCOUNT,
  SLAB_RED_ZONE,
  SLAB_STORE_USER,
  SLAB_TRACE,
  SLAB_TYPESAFE_BY_RCU,
} from "../../mm/slub/flags.ts";
import { partialFree } from "../proc/slabinfo.ts";

export const SYSFS_SLAB = "/sys/kernel/slab/";

/** MIN_PARTIAL / MAX_PARTIAL (set_min_partial()). */
const MIN_PARTIAL = 5;
const MAX_PARTIAL = 10;

/** slab_unmergeable(): such a cache's sysfs directory carries its own name. */
export function slabUnmergeable(k: Kernel, s: KmemCache): boolean {
  if (k.cmdline.has("slab_nomerge") || k.cmdline.has("slub_nomerge")) return true;
  if (s.flags & SLAB_NEVER_MERGE) return true;
  if (s.ctor || s.usersize) return true;
  return s.refcount < 0;
}

/** create_unique_id(): ':' + [d][D][a][F][A] + '-' (if any letter) + the slot size as %07u. */
export function uniqueId(s: KmemCache): string {
  let id = ":";
  if (s.flags & SLAB_CACHE_DMA) id += "d";
  if (s.flags & SLAB_CACHE_DMA32) id += "D";
  if (s.flags & SLAB_RECLAIM_ACCOUNT) id += "a";
  if (s.flags & SLAB_CONSISTENCY_CHECKS) id += "F";
  if (s.flags & SLAB_ACCOUNT) id += "A";
  if (id.length > 1) id += "-";
  return id + String(s.size).padStart(7, "0");
}

/** The cache a /sys/kernel/slab entry names: its directory, its own name, or an alias (symlinks). */
export function sysfsSlabCache(k: Kernel, dir: string): KmemCache | null {
  const list = k.slub.list;
  for (const s of list) if (s.name === dir) return s;
  for (const s of list) if (s.aliases.includes(dir)) return s;
  if (dir.startsWith(":")) for (const s of list) if (!slabUnmergeable(k, s) && uniqueId(s) === dir) return s;
  return null;
}

// show_slab_objects() selectors.
const SO_ALL = 1;
const SO_PARTIAL = 2;
const SO_CPU = 4;
const SO_OBJECTS = 8;
const SO_TOTAL = 16;

/** show_slab_objects(): the total, then " N<node>=<count>" for every node with a nonzero count. */
function showSlabObjects(k: Kernel, s: KmemCache, flags: number): string {
  const slub = k.slub;
  const sl = slub.slabs;
  const nodes = new Array<number>(k.nodes.length).fill(0);
  let total = 0;
  const add = (node: number, x: number) => {
    total += x;
    nodes[node]! += x;
  };
  if (flags & SO_CPU) {
    for (let cpu = 0; cpu < k.cpus; cpu++) {
      const id = s.cpuSlab[cpu]!;
      if (id === -1) continue;
      add(sl.node[id]!, flags & SO_TOTAL ? sl.objects[id]! : flags & SO_OBJECTS ? sl.inuse[id]! : 1);
      const part = s.cpuPartial[cpu]!;
      // The kernel WARNs for objects/total here; only the slab count (page->pages) is meaningful.
      if (part !== -1 && !(flags & (SO_TOTAL | SO_OBJECTS))) add(sl.node[part]!, s.cpuPartialPages[cpu]!);
    }
  }
  if (flags & SO_ALL) {
    for (let n = 0; n < k.nodes.length; n++) {
      if (flags & SO_TOTAL) add(n, s.totalObjects[n]!);
      else if (flags & SO_OBJECTS) add(n, s.totalObjects[n]! - partialFree(slub, s, n));
      else add(n, s.nrSlabs[n]!);
    }
  } else if (flags & SO_PARTIAL) {
    for (let n = 0; n < k.nodes.length; n++) {
      let x = 0;
      if (flags & (SO_TOTAL | SO_OBJECTS))
        for (let id = s.partialHead[n]!; id !== -1; id = sl.next[id]!)
          x += flags & SO_TOTAL ? sl.objects[id]! : sl.inuse[id]!;
      else x = s.nrPartial[n]!;
      add(n, x);
    }
  }
  let out = `${total}`;
  nodes.forEach((v, n) => {
    if (v) out += ` N${n}=${v}`;
  });
  return `${out}\n`;
}

/** slabs_cpu_partial_show(): "objects(slabs)" over all CPUs, then " C<cpu>=objects(slabs)" per CPU. */
function slabsCpuPartial(k: Kernel, s: KmemCache): string {
  let objects = 0;
  let pages = 0;
  let perCpu = "";
  for (let cpu = 0; cpu < k.cpus; cpu++) {
    if (s.cpuPartial[cpu] === -1) continue;
    objects += s.cpuPartialPobjects[cpu]!;
    pages += s.cpuPartialPages[cpu]!;
    perCpu += ` C${cpu}=${s.cpuPartialPobjects[cpu]}(${s.cpuPartialPages[cpu]})`;
  }
  return `${objects}(${pages})${perCpu}\n`;
}

const bit = (s: KmemCache, flag: number) => `${s.flags & flag ? 1 : 0}\n`;

/** ctor_show(): "%pS" of the constructor, nothing at all without one. */
function ctorShow(s: KmemCache): string {
  if (!s.ctor) return "";
  const name = s.ctor.name || "ctor";
  return `${name}+0x0/0x${kframe(name).size.toString(16)}\n`;
}

/**
 * list_locations(): the alloc (or free) tracks of every allocated object, grouped by caller, with the
 * count, the ages' min/avg/max, the pid range, and the CPUs and nodes when there are several.
 */
function listLocations(k: Kernel, s: KmemCache, which: number, path: string): string {
  if (!(s.flags & SLAB_STORE_USER)) throw new FsError("ENOSYS", `cat: ${path}: Function not implemented`);
  const slub = k.slub;
  slub.flushAll(s);
  const now = k.core.clock.jiffies;
  interface Loc {
    count: number;
    sum: number;
    min: number;
    max: number;
    minPid: number;
    maxPid: number;
    cpus: Set<number>;
    nodes: Set<number>;
  }
  const locs = new Map<string, Loc>();
  for (const id of slub.slabsOf(s)) {
    const node = slub.slabs.node[id]!;
    slub.forEachObject(s, id, (obj, allocated) => {
      if (!allocated) return;
      const t = k.slab.debug.trackOf(s, obj, which);
      const age = now - t.when;
      let l = locs.get(t.caller);
      if (!l) {
        l = {
          count: 0,
          sum: 0,
          min: age,
          max: age,
          minPid: t.pid,
          maxPid: t.pid,
          cpus: new Set(),
          nodes: new Set(),
        };
        locs.set(t.caller, l);
      }
      l.count++;
      l.sum += age;
      l.min = Math.min(l.min, age);
      l.max = Math.max(l.max, age);
      l.minPid = Math.min(l.minPid, t.pid);
      l.maxPid = Math.max(l.maxPid, t.pid);
      if (t.caller) l.cpus.add(t.cpu);
      l.nodes.add(node);
    });
  }
  if (locs.size === 0) return "No data\n";
  const list = (set: Set<number>) => vsprintf("%*pbl", [Math.max(...set) + 1, [...set]], k.core.printfCtx);
  let out = "";
  for (const [caller, l] of [...locs].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))) {
    out += `${String(l.count).padStart(7)} ${caller || "<not-available>"}`;
    out += l.sum !== l.min ? ` age=${l.min}/${Math.floor(l.sum / l.count)}/${l.max}` : ` age=${l.min}`;
    out += l.minPid !== l.maxPid ? ` pid=${l.minPid}-${l.maxPid}` : ` pid=${l.minPid}`;
    if (k.cpus > 1 && l.cpus.size) out += ` cpus=${list(l.cpus)}`;
    if (k.nodes.length > 1 && l.nodes.size) out += ` nodes=${list(l.nodes)}`;
    out += "\n";
  }
  return out;
}

const ATTRS: Readonly<Record<string, (k: Kernel, s: KmemCache, path: string) => string>> = {
  alloc_calls: (k, s, path) => listLocations(k, s, 0, path),
  free_calls: (k, s, path) => listLocations(k, s, 1, path),
  slab_size: (_k, s) => `${s.size}\n`,
  object_size: (_k, s) => `${s.objectSize}\n`,
  objs_per_slab: (_k, s) => `${s.objects}\n`,
  order: (_k, s) => `${s.order}\n`,
  min_partial: (_k, s) => `${s.minPartial}\n`,
  cpu_partial: (_k, s) => `${s.cpuPartialObjects}\n`,
  objects: (k, s) => showSlabObjects(k, s, SO_ALL | SO_OBJECTS),
  objects_partial: (k, s) => showSlabObjects(k, s, SO_PARTIAL | SO_OBJECTS),
  partial: (k, s) => showSlabObjects(k, s, SO_PARTIAL),
  cpu_slabs: (k, s) => showSlabObjects(k, s, SO_CPU),
  ctor: (_k, s) => ctorShow(s),
  aliases: (_k, s) => `${s.refcount < 0 ? 0 : s.refcount - 1}\n`,
  align: (_k, s) => `${s.align}\n`,
  hwcache_align: (_k, s) => bit(s, SLAB_HWCACHE_ALIGN),
  reclaim_account: (_k, s) => bit(s, SLAB_RECLAIM_ACCOUNT),
  destroy_by_rcu: (_k, s) => bit(s, SLAB_TYPESAFE_BY_RCU),
  shrink: () => "",
  slabs_cpu_partial: slabsCpuPartial,
  total_objects: (k, s) => showSlabObjects(k, s, SO_ALL | SO_OBJECTS | SO_TOTAL),
  slabs: (k, s) => showSlabObjects(k, s, SO_ALL),
  sanity_checks: (_k, s) => bit(s, SLAB_CONSISTENCY_CHECKS),
  trace: (_k, s) => bit(s, SLAB_TRACE),
  red_zone: (_k, s) => bit(s, SLAB_RED_ZONE),
  poison: (_k, s) => bit(s, SLAB_POISON),
  store_user: (_k, s) => bit(s, SLAB_STORE_USER),
  validate: () => "",
  cache_dma: (_k, s) => bit(s, SLAB_CACHE_DMA),
  // The default ratio 1000, shown divided by 10; the allocator always tries the other nodes.
  remote_node_defrag_ratio: () => "100\n",
  usersize: (_k, s) => `${s.usersize}\n`,
};

function resolve(k: Kernel, path: string, verb: "cat" | "echo"): [KmemCache, string] {
  const rest = path.slice(SYSFS_SLAB.length).split("/");
  const s = rest.length === 2 ? sysfsSlabCache(k, rest[0]!) : null;
  if (!s || ATTRS[rest[1]!] === undefined)
    throw new FsError("ENOENT", `${verb}: ${path}: No such file or directory`);
  return [s, rest[1]!];
}

/** A /sys/kernel/slab file's text, or undefined for a path outside /sys/kernel/slab/. */
export function sysfsSlabRead(k: Kernel, path: string): string | undefined {
  if (!path.startsWith(SYSFS_SLAB)) return undefined;
  const [s, attr] = resolve(k, path, "cat");
  return ATTRS[attr]!(k, s, path);
}

/** kstrtoul()/kstrtouint() in base 10: digits, one trailing newline allowed. */
function kstrtou(value: string, path: string): number {
  if (!/^\d+\n?$/.test(value)) throw new FsError("EINVAL", `echo: write error: ${path}: Invalid argument`);
  return Number.parseInt(value, 10);
}

/** A write to a /sys/kernel/slab file; false for a path outside /sys/kernel/slab/. */
export function sysfsSlabWrite(k: Kernel, path: string, value: string): boolean {
  if (!path.startsWith(SYSFS_SLAB)) return false;
  const [s, attr] = resolve(k, path, "echo");
  const invalid = () => new FsError("EINVAL", `echo: write error: ${path}: Invalid argument`);
  switch (attr) {
    case "validate":
      // validate_store(): only "1" runs validate_slab_cache().
      if (value[0] !== "1") throw invalid();
      k.slab.debug.validate(s);
      return true;
    case "shrink":
      if (value[0] !== "1") throw invalid();
      k.slub.shrink(s);
      return true;
    case "min_partial": {
      // set_min_partial(): clamped to MIN_PARTIAL..MAX_PARTIAL.
      const v = kstrtou(value, path);
      s.minPartial = Math.min(MAX_PARTIAL, Math.max(MIN_PARTIAL, v));
      return true;
    }
    case "cpu_partial": {
      // cpu_partial_store(): debug caches keep no per-CPU partial slabs; then flush_all().
      const v = kstrtou(value, path);
      if (v && !s.hasCpuPartial) throw invalid();
      s.cpuPartialObjects = v;
      k.slub.flushAll(s);
      return true;
    }
    default:
      // Read-only here (the 5.4 debug-flag and reclaim_account stores are not modelled).
      throw new FsError("EACCES", `echo: write error: ${path}: Permission denied`);
  }
}
