import { describe, expect, it } from "vitest";
import { manifestProblems, publishedPackages } from "./packages.js";

const good = {
  name: "@powerstrip/x",
  description: "x",
  license: "Apache-2.0",
  repository: { type: "git", url: "git+https://github.com/powerstrip/powerstrip.git" },
  type: "module",
  exports: {
    ".": { types: "./dist/index.d.ts", import: "./dist/index.js" },
    "./package.json": "./package.json",
  },
  types: "./dist/index.d.ts",
  files: ["dist"],
  engines: { node: ">=20.19" },
};

describe("manifestProblems", () => {
  it("passes a manifest with everything a published package needs", () => {
    expect(manifestProblems({ name: "@powerstrip/x", manifest: good }, true)).toEqual([]);
  });

  it("names each missing piece", () => {
    const { repository: _r, engines: _e, ...rest } = good;
    const manifest = { ...rest, exports: { ".": { import: "./dist/index.js" } }, files: ["src"] };
    expect(manifestProblems({ name: "@powerstrip/x", manifest }, false)).toEqual([
      "no README.md",
      'exports has no "./package.json"',
      'exports["."] has no "types"',
      '"files" does not list dist',
      'engines.node is missing, not ">=20.19"',
      "no repository",
    ]);
  });
});

describe("publishedPackages", () => {
  it("lists the public packages under packages/ and never a private one", () => {
    const { packages, skipped } = publishedPackages();
    const names = [...packages.map((pkg) => pkg.name), ...skipped.map((line) => line.split(" ")[0])];
    expect(names).toEqual(
      expect.arrayContaining(["@powerstrip/protocol", "@powerstrip/adapter-sdk", "@powerstrip/cli"]),
    );
    for (const pkg of packages) expect(pkg.manifest.private).not.toBe(true);
  });
});
