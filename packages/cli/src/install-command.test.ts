import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { afterEach, describe, expect, it } from "vitest";
import { run } from "./run.js";

/** The plugin program the CLI app ships. */
const PLUGIN = join(import.meta.dirname, "..", "bin", "docker-powerstrip");

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function io(env: NodeJS.ProcessEnv) {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = "";
  let err = "";
  stdout.on("data", (c: Buffer) => {
    out += c.toString();
  });
  stderr.on("data", (c: Buffer) => {
    err += c.toString();
  });
  return { io: { stdout, stderr, env, dockerPluginPath: PLUGIN }, out: () => out, err: () => err };
}

describe("powerstrip install-docker-plugin", () => {
  it("writes docker-powerstrip into ~/.docker/cli-plugins, executable, and is idempotent", async () => {
    const home = mkdtempSync(join(tmpdir(), "pst-home-"));
    dirs.push(home);
    const first = io({ HOME: home });
    const code = await run(["install-docker-plugin"], first.io);
    expect(first.err()).toBe("");
    expect(code).toBe(0);
    const plugin = join(home, ".docker", "cli-plugins", "docker-powerstrip");
    expect(statSync(plugin).mode & 0o111).not.toBe(0);
    expect(readFileSync(plugin, "utf8")).toContain("docker-powerstrip");
    expect(first.out()).toMatch(/docker-powerstrip/);
    const second = io({ HOME: home });
    expect(await run(["install-docker-plugin"], second.io)).toBe(0);
    expect(second.out()).toMatch(/already installed/);
  });
});
