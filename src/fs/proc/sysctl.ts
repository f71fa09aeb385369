// /proc/sys/vm knobs of the page allocator. Writes are validated like proc_dointvec_minmax: a value out
// of range is refused with EINVAL and changes nothing; a good one recomputes what the kernel recomputes.

import { FsError } from "../../kernel/errors.ts";
import type { Kernel } from "../../kernel/kernel.ts";

function parseInt10(value: string, path: string): number {
  const t = value.trim();
  if (!/^-?\d+$/.test(t)) throw new FsError("EINVAL", `echo: write error: ${path}: Invalid argument`);
  return Number(t);
}

export function sysctlRead(k: Kernel, path: string): string | undefined {
  switch (path) {
    case "/proc/sys/vm/min_free_kbytes":
      return `${k.wm.minFreeKbytes}\n`;
    case "/proc/sys/vm/watermark_scale_factor":
      return `${k.wm.watermarkScaleFactor}\n`;
    case "/proc/sys/vm/lowmem_reserve_ratio":
      return `${k.wm.lowmemReserveRatio.join("\t")}\n`;
    case "/proc/sys/vm/percpu_pagelist_fraction":
      return `${k.wm.percpuPagelistFraction}\n`;
    case "/proc/sys/kernel/kptr_restrict":
      return `${k.core.printfCtx.kptrRestrict}\n`;
    // The taint bits as a number (read-only here: kmem has no reason to set taint from user space).
    case "/proc/sys/kernel/tainted":
      return `${k.core.taint}\n`;
    default:
      return undefined;
  }
}

export function sysctlWrite(k: Kernel, path: string, value: string): boolean {
  switch (path) {
    case "/proc/sys/vm/min_free_kbytes": {
      // min_free_kbytes_sysctl_handler: extra1 = 0; the value is kept as the user's choice.
      const v = parseInt10(value, path);
      if (v < 0) throw new FsError("EINVAL", `echo: write error: ${path}: Invalid argument`);
      k.wm.minFreeKbytes = v;
      k.wm.userMinFreeKbytes = v;
      k.recalcWatermarks();
      return true;
    }
    case "/proc/sys/vm/watermark_scale_factor": {
      const v = parseInt10(value, path);
      if (v < 1 || v > k.profile.watermarkScaleFactorMax)
        throw new FsError("EINVAL", `echo: write error: ${path}: Invalid argument`);
      k.wm.watermarkScaleFactor = v;
      k.recalcWatermarks();
      return true;
    }
    case "/proc/sys/vm/lowmem_reserve_ratio": {
      const vals = value
        .trim()
        .split(/\s+/)
        .map((x) => parseInt10(x, path));
      if (vals.length === 0 || vals.length > k.wm.lowmemReserveRatio.length)
        throw new FsError("EINVAL", `echo: write error: ${path}: Invalid argument`);
      vals.forEach((v, i) => {
        k.wm.lowmemReserveRatio[i] = v;
      });
      k.recalcWatermarks();
      return true;
    }
    case "/proc/sys/vm/percpu_pagelist_fraction": {
      // percpu_pagelist_fraction_sysctl_handler: 0 restores the default sizes, else at least 8.
      const v = parseInt10(value, path);
      if (v !== 0 && v < 8) throw new FsError("EINVAL", `echo: write error: ${path}: Invalid argument`);
      k.wm.percpuPagelistFraction = v;
      k.setPcpSizes();
      return true;
    }
    case "/proc/sys/kernel/kptr_restrict": {
      const v = parseInt10(value, path);
      if (v < 0 || v > 2) throw new FsError("EINVAL", `echo: write error: ${path}: Invalid argument`);
      k.core.printfCtx.kptrRestrict = v;
      return true;
    }
    default:
      return false;
  }
}
