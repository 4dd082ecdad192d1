// Writes docs/protocol-reference.md: `npm run docs:protocol`.
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { referenceFile, renderProtocolReference } from "./protocol-reference.js";

mkdirSync(dirname(referenceFile), { recursive: true });
writeFileSync(referenceFile, renderProtocolReference());
console.log(`wrote ${referenceFile}`);
