import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { cliReferenceFile, renderCliReference } from "./cli-reference.js";

describe("docs/cli-reference.md", () => {
  it("is the command's own help (run `npm run docs:cli` after changing a command)", async () => {
    expect(readFileSync(cliReferenceFile, "utf8")).toBe(await renderCliReference());
  });
});
