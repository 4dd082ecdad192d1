import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { UsageError } from "./errors.js";
import { newAdapter } from "./new-adapter.js";
import { run } from "./run.js";

let root: string;
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), "powerstrip-new-adapter-"));
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

function io() {
  const output = { stdout: "", stderr: "" };
  return {
    output,
    io: {
      stdout: { write: (text: string) => (output.stdout += text) },
      stderr: { write: (text: string) => (output.stderr += text) },
      env: {},
    },
  };
}

describe("newAdapter", () => {
  it("writes the starter project with the name, image and SDK filled in", async () => {
    const dir = join(root, "labels");
    const result = await newAdapter({
      name: "labels",
      directory: dir,
      image: "acme/labels",
      sdk: "file:/x.tgz",
    });
    expect(result.files).toEqual([
      ".dockerignore",
      ".gitignore",
      "Dockerfile",
      "README.md",
      "package.json",
      "src/adapter.ts",
      "src/main.ts",
      "test/adapter.test.ts",
      "tsconfig.json",
    ]);
    const manifest = JSON.parse(await readFile(join(dir, "package.json"), "utf8"));
    expect(manifest.name).toBe("labels");
    expect(manifest.dependencies).toEqual({ "@powerstrip/adapter-sdk": "file:/x.tgz" });
    expect(manifest.scripts.test).toBe("vitest run");
    expect(await readFile(join(dir, "src/adapter.ts"), "utf8")).toContain('name: "labels"');
    const dockerfile = await readFile(join(dir, "Dockerfile"), "utf8");
    expect(dockerfile).toContain("ARG BASE_IMAGE=node:20-bookworm-slim");
    expect(dockerfile).toContain("docker build -t acme/labels .");
    for (const file of result.files) {
      expect(await readFile(join(dir, file), "utf8"), file).not.toMatch(/__(NAME|IMAGE|SDK)__/);
    }
  });

  it("defaults the SDK to this release's range", async () => {
    await newAdapter({ name: "x", directory: join(root, "x") });
    const manifest = JSON.parse(await readFile(join(root, "x", "package.json"), "utf8"));
    expect(manifest.dependencies["@powerstrip/adapter-sdk"]).toMatch(/^\^\d+\.\d+\.\d+/);
  });

  it("refuses a name the handshake would refuse", async () => {
    await expect(newAdapter({ name: "Bad Name", directory: join(root, "b") })).rejects.toBeInstanceOf(
      UsageError,
    );
  });

  it("refuses a directory that is not empty", async () => {
    await writeFile(join(root, "keep.txt"), "mine");
    await expect(newAdapter({ name: "x", directory: root })).rejects.toThrow(/not empty/);
  });
});

describe("powerstrip new adapter", () => {
  it("writes the project and says what to do next", async () => {
    const { io: streams, output } = io();
    const code = await run(["new", "adapter", "labels", "--dir", join(root, "labels")], streams);
    expect(output.stderr).toBe("");
    expect(code).toBe(0);
    expect(output.stdout).toContain("npm test");
    expect(output.stdout).toContain("powerstrip load labels");
  });

  it("exits 2 with one line for a bad name", async () => {
    const { io: streams, output } = io();
    const code = await run(["new", "adapter", "Bad", "--dir", join(root, "b")], streams);
    expect(code).toBe(2);
    expect(output.stderr.trim().split("\n")).toHaveLength(1);
  });

  it("is listed in --help", async () => {
    const { io: streams, output } = io();
    await run(["--help"], streams);
    expect(output.stdout).toMatch(/new\s+start a project/);
  });
});
