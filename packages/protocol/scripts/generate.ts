// `npm run generate -w @powerstrip/protocol`: regenerates the TypeScript types from the schemas and
// the README's embedded examples from examples/. Both are committed and checked by unit tests.
import { writeFileSync } from "node:fs";
import { embedExamples, readmeFile } from "./embed-examples.js";
import { generateTypes, typesFile } from "./generate-types.js";

writeFileSync(typesFile, await generateTypes());
writeFileSync(readmeFile, embedExamples());
console.log(`wrote ${typesFile}\nwrote ${readmeFile}`);
