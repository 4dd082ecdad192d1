import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { IMAGES } from "./build-images.mjs";

// The conventions of the images `npm run images` builds, checked without an engine (the engine
// tests in apps/proxy/test/image.test.ts run them).

const ROOT = join(import.meta.dirname, "..", "..");
const EXAMPLES = join(ROOT, "apps", "examples");

describe("the image list", () => {
  it("has the base, the proxy and one image per example adapter with a program", () => {
    const examples = readdirSync(EXAMPLES)
      .filter((n) => existsSync(join(EXAMPLES, n, "src", "main.ts")))
      .map((n) => `powerstrip/example-${n}`);
    const loader = [
      "powerstrip/adapter-loader",
      "powerstrip/example-socketplane-agent",
      "powerstrip/socketplane",
    ];
    expect(IMAGES.map((i) => i.name).sort()).toEqual(
      ["powerstrip/base-node", "powerstrip/proxy", ...examples, ...loader].sort(),
    );
  });

  it("builds the program of each image first, and the base before anything on it", () => {
    for (const image of IMAGES.filter((i) => i.name !== "powerstrip/base-node")) {
      const deps =
        image.name === "powerstrip/socketplane" // a loader image: FROM powerstrip/adapter-loader, plus its set's images
          ? ["powerstrip/adapter-loader", "powerstrip/example-socketplane-agent"]
          : ["powerstrip/base-node"];
      expect(image.deps, image.name).toEqual(deps);
      expect(image.project, image.name).toMatch(/^@powerstrip\//);
    }
  });
});

describe.each([
  ["apps/proxy", "dist/image/powerstrip-proxy.mjs"],
  ...readdirSync(EXAMPLES)
    .filter((n) => existsSync(join(EXAMPLES, n, "src", "main.ts")))
    .map((n) => [`apps/examples/${n}`, "dist/main.js"]),
])("%s/Dockerfile", (dir, bundle) => {
  const dockerfile = readFileSync(join(ROOT, dir, "Dockerfile"), "utf8");
  const instructions = dockerfile
    .split("\n")
    .filter((l) => l.trim() !== "" && !l.startsWith("#"))
    .map((l) => l.trim());

  it("takes the public node image as its default base, overridable with BASE_IMAGE", () => {
    expect(instructions.slice(0, 2)).toEqual(["ARG BASE_IMAGE=node:20-bookworm-slim", `FROM \${BASE_IMAGE}`]);
  });

  it("copies the bundle alone (the proxy: and the koffi tsup prepares), no npm install, no RUN", () => {
    expect(dockerfile).toContain(`COPY ${bundle} `);
    expect(instructions.join("\n")).not.toMatch(/\bnpm\b|^RUN /m);
    // The one node_modules: the proxy's native koffi, prepared beside the bundle by tsup.image.config.ts.
    const copies = instructions.filter((l) => l.includes("node_modules"));
    expect(copies).toEqual(dir === "apps/proxy" ? ["COPY dist/image/node_modules /app/node_modules"] : []);
    // The classic builder sends the whole context: the .dockerignore keeps it to what is copied.
    const ignore = readFileSync(join(ROOT, dir, ".dockerignore"), "utf8").split("\n");
    expect(ignore).toContain("*");
  });

  it("carries the OCI labels, with the version the builder passes", () => {
    for (const label of ["title", "description", "version", "licenses"]) {
      expect(dockerfile).toContain(`org.opencontainers.image.${label}=`);
    }
    expect(dockerfile).toMatch(/^ARG VERSION=/m);
    expect(dockerfile).toContain(`org.opencontainers.image.version="\${VERSION}"`);
  });

  it("runs node on an .mjs file (the image has no package.json saying type: module)", () => {
    expect(instructions.find((l) => /^(ENTRYPOINT|CMD) \[/.test(l) && l.includes("node"))).toMatch(/\.mjs/);
  });
});
