import { readFileSync } from "node:fs";
import { expect, it } from "vitest";
import { generateTypes, typesFile } from "../../scripts/generate-types.js";

it("types.ts is what the schemas generate (run `npm run generate -w @powerstrip/protocol`)", async () => {
  expect(await generateTypes()).toBe(readFileSync(typesFile, "utf8"));
}, 30_000);
