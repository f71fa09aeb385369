#!/usr/bin/env node
// The `kmem` command. tsx's loaders (ESM and CommonJS) are registered first, so module files written in
// TypeScript load directly, wherever they are (and, in a source checkout, the CLI itself runs from src/).
import { existsSync } from "node:fs";
import { register as registerCjs } from "tsx/cjs/api";
import { register as registerEsm } from "tsx/esm/api";

registerCjs();
registerEsm();
const source = new URL("../src/cli/main.ts", import.meta.url);
const entry = existsSync(source) ? source : new URL("../dist/cli/main.js", import.meta.url);
const { main } = await import(entry.href);
process.exitCode = await main(process.argv);
