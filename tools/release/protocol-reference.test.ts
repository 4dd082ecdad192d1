import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { referenceFile, renderProtocolReference, schemaFiles } from "./protocol-reference.js";

describe("docs/protocol-reference.md", () => {
  it("is what the schemas generate (run `npm run docs:protocol` after changing a schema)", () => {
    expect(readFileSync(referenceFile, "utf8")).toBe(renderProtocolReference());
  });

  it("covers every schema file", () => {
    const text = readFileSync(referenceFile, "utf8");
    for (const file of schemaFiles()) expect(text).toContain(`\`${file}\``);
  });
});
