// Loadable modules: insmod runs init() as the task "insmod", rmmod runs exit() as "rmmod". Module
// parameters have types and defaults like module_param(). A negative errno from init fails the load with
// insmod's message; a BUG or Oops inside init/exit ends that call (insmod dies) and leaves the kernel usable.

import { ERRNO_TEXT, KernelError } from "./errors.ts";
import type { Kernel } from "./kernel.ts";
import { KERN_ERR, KERN_WARNING } from "./printk.ts";
import { TAINT_OOT_MODULE } from "./taint.ts";

export type ParamType = "int" | "uint" | "long" | "ulong" | "bool" | "charp";
export type ParamValue = number | boolean | string;

export interface ParamSpec {
  readonly type: ParamType;
  readonly default: ParamValue;
  readonly desc?: string;
}

export type ModuleParams = Record<string, ParamValue | string>;

export interface KernelModule {
  /** KBUILD_MODNAME. */
  readonly name: string;
  readonly params?: Readonly<Record<string, ParamSpec>>;
  readonly description?: string;
  readonly license?: string;
  /** Returns 0 (or nothing) on success, a negative errno to fail the load. */
  init(k: Kernel, params: Record<string, ParamValue>): number | undefined;
  exit?(k: Kernel, params: Record<string, ParamValue>): void;
}

export interface InsmodResult {
  readonly ok: boolean;
  /** What the insmod/rmmod command prints on failure (its stderr), or "Segmentation fault" after a BUG/Oops. */
  readonly message?: string;
  readonly errno?: number;
}

interface Loaded {
  readonly mod: KernelModule;
  readonly params: Record<string, ParamValue>;
}

function parseParam(name: string, spec: ParamSpec, raw: ParamValue | string): ParamValue {
  if (spec.type === "charp") return String(raw);
  if (spec.type === "bool") {
    if (typeof raw === "boolean") return raw;
    if (/^(1|y|Y|on|true)$/.test(String(raw))) return true;
    if (/^(0|n|N|off|false)$/.test(String(raw))) return false;
    throw new RangeError(`${name}: invalid bool '${raw}'`);
  }
  const n = typeof raw === "number" ? raw : Number(raw);
  if (!Number.isInteger(n)) throw new RangeError(`${name}: '${raw}' invalid for parameter '${name}'`);
  if ((spec.type === "uint" || spec.type === "ulong") && n < 0)
    throw new RangeError(`${name}: '${raw}' invalid for parameter '${name}'`);
  return n;
}

export class Modules {
  private readonly loaded = new Map<string, Loaded>();
  private ootWarned = false;

  constructor(private readonly k: Kernel) {}

  isLoaded(name: string): boolean {
    return this.loaded.has(name);
  }

  insmod(mod: KernelModule, raw: ModuleParams): InsmodResult {
    const core = this.k.core;
    if (this.loaded.has(mod.name))
      return {
        ok: false,
        errno: 17,
        message: `insmod: ERROR: could not insert module ${mod.name}.ko: File exists`,
      };
    // check_modinfo() taints before parse_args() looks at the parameters.
    if (!this.ootWarned) {
      this.ootWarned = true;
      core.lines(KERN_WARNING, `${mod.name}: loading out-of-tree module taints kernel.`);
    }
    core.addTaint(TAINT_OOT_MODULE, false);
    const params: Record<string, ParamValue> = {};
    for (const [n, spec] of Object.entries(mod.params ?? {})) params[n] = spec.default;
    for (const [n, v] of Object.entries(raw)) {
      const spec = mod.params?.[n];
      if (!spec) {
        core.lines(KERN_WARNING, `${mod.name}: unknown parameter '${n}' ignored`);
        continue;
      }
      try {
        params[n] = parseParam(n, spec, v);
      } catch {
        core.lines(KERN_ERR, `${mod.name}: '${v}' invalid for parameter '${n}'`);
        return {
          ok: false,
          errno: 22,
          message: `insmod: ERROR: could not insert module ${mod.name}.ko: Invalid parameters`,
        };
      }
    }
    const entry = { name: mod.name, state: "coming" as "coming" | "live" | "going" };
    core.modules.unshift(entry);
    let r: ReturnType<Modules["run"]>;
    try {
      r = this.run(mod, params, "init", "insmod");
    } catch (e) {
      // A JavaScript error in the module's own code (not a kernel report): the load fails, then it is rethrown.
      core.modules.splice(core.modules.indexOf(entry), 1);
      throw e;
    }
    if (r.killed) {
      core.modules.splice(core.modules.indexOf(entry), 1);
      return { ok: false, message: "Segmentation fault" };
    }
    const ret = typeof r.ret === "number" ? r.ret : 0;
    if (ret < 0) {
      core.modules.splice(core.modules.indexOf(entry), 1);
      const text = ERRNO_TEXT[-ret] ?? `Unknown error ${-ret}`;
      return {
        ok: false,
        errno: -ret,
        message: `insmod: ERROR: could not insert module ${mod.name}.ko: ${text}`,
      };
    }
    if (ret > 0)
      core.lines(
        KERN_WARNING,
        `${mod.name}: '${mod.name}'->init suspiciously returned ${ret}, it should follow 0/-E convention`,
      );
    entry.state = "live";
    this.loaded.set(mod.name, { mod, params });
    return { ok: true };
  }

  rmmod(name: string): InsmodResult {
    const l = this.loaded.get(name);
    if (!l) return { ok: false, errno: 2, message: `rmmod: ERROR: Module ${name} is not currently loaded` };
    const core = this.k.core;
    const entry = core.modules.find((m) => m.name === name)!;
    entry.state = "going";
    let r: { killed: boolean };
    try {
      r = this.run(l.mod, l.params, "exit", "rmmod");
    } finally {
      core.modules.splice(core.modules.indexOf(entry), 1);
      this.loaded.delete(name);
    }
    return r.killed ? { ok: false, message: "Segmentation fault" } : { ok: true };
  }

  /** Run init or exit as a fresh task; a kernel error thrown inside ends the call. */
  private run(mod: KernelModule, params: Record<string, ParamValue>, phase: "init" | "exit", comm: string) {
    const core = this.k.core;
    const saved = core.current;
    core.current = core.newTask(comm);
    core.moduleCall = { name: mod.name, phase };
    core.clock.advance(2_000_000);
    try {
      const ret = phase === "init" ? mod.init(this.k, params) : mod.exit?.(this.k, params);
      return { ret, killed: false };
    } catch (e) {
      if (e instanceof KernelError && !(e.name === "KernelPanic")) return { ret: undefined, killed: true };
      throw e;
    } finally {
      core.moduleCall = null;
      core.current = saved;
    }
  }
}
