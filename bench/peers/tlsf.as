// AssemblyScript source of the TLSF peer (std/assembly/rt/tlsf.ts via the runtime's heap), compiled to
// wasm at bench start by bench/peers.ts with `--runtime minimal -O3 --noAssert`. Not TypeScript: the
// .as extension keeps it out of tsc and biome.
export function alloc(size: usize): usize { return heap.alloc(size); }
export function free(ptr: usize): void { heap.free(ptr); }
