// Writes docs/cli-reference.md: `npm run docs:cli`.
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { cliReferenceFile, renderCliReference } from "./cli-reference.js";

mkdirSync(dirname(cliReferenceFile), { recursive: true });
writeFileSync(cliReferenceFile, await renderCliReference());
console.log(`wrote ${cliReferenceFile}`);
