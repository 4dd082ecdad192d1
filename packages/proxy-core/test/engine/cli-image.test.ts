import { createHash, randomBytes } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startProxy } from "@powerstrip/proxy-core";
import {
  BASE_IMAGE,
  containerFlags,
  type DockerTarget,
  openTarget,
  RUN_LABEL,
  readTar,
  removeLabelled,
  succeeded,
  uniqueName,
} from "@powerstrip/test-support";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

// The classic builder: one streamed POST /build, which is what the proxy must carry.
const CLASSIC = { DOCKER_BUILDKIT: "0" };

let target: DockerTarget;
let dir: string;
beforeAll(async () => {
  target = await openTarget(startProxy);
  dir = await mkdtemp(join(tmpdir(), "pst-image-"));
});
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
  await removeLabelled();
  await target?.close();
});

/** Writes a build context directory and returns its path. */
async function context(files: Record<string, string | Buffer>): Promise<string> {
  const path = await mkdtemp(join(dir, "ctx-"));
  for (const [name, content] of Object.entries(files)) await writeFile(join(path, name), content);
  return path;
}

describe("docker CLI: images", () => {
  it("build (classic builder) sends the context and the image runs", async () => {
    const payload = randomBytes(2 * 1024 * 1024);
    const ctx = await context({
      Dockerfile: [
        `FROM ${BASE_IMAGE}`,
        "COPY payload.bin /payload.bin",
        "RUN echo built > /built.txt && sha256sum /payload.bin | cut -d' ' -f1 >> /built.txt",
        'CMD ["cat", "/built.txt"]',
      ].join("\n"),
      "payload.bin": payload,
    });
    const tag = `${uniqueName("build")}:latest`;
    const build = succeeded(
      await target.docker(["build", "--label", RUN_LABEL, "-t", tag, ctx], { env: CLASSIC }),
    );
    expect(build.stdout.toString()).toContain(`Successfully tagged ${tag}`);

    const run = succeeded(await target.docker(["run", "--rm", ...containerFlags(uniqueName("built")), tag]));
    const hash = createHash("sha256").update(payload).digest("hex");
    expect(run.stdout.toString()).toBe(`built\n${hash}\n`);
  });

  it("save | load round-trips an image", async () => {
    const ctx = await context({
      Dockerfile: "FROM scratch\nCOPY hello.txt /hello.txt\n",
      "hello.txt": "hello\n",
    });
    const tag = `${uniqueName("save")}:latest`;
    succeeded(await target.docker(["build", "--label", RUN_LABEL, "-t", tag, ctx], { env: CLASSIC }));
    const id = succeeded(await target.docker(["image", "inspect", "-f", "{{.Id}}", tag]))
      .stdout.toString()
      .trim();

    const saved = succeeded(await target.docker(["save", tag])).stdout;
    expect(readTar(saved).map((e) => e.name)).toContain("manifest.json");
    succeeded(await target.docker(["rmi", tag]));
    expect((await target.docker(["image", "inspect", tag])).code).toBe(1);

    const load = succeeded(await target.docker(["load"], { input: saved }));
    expect(load.stdout.toString()).toContain(`Loaded image: ${tag}`);
    const reloaded = succeeded(await target.docker(["image", "inspect", "-f", "{{.Id}}", tag]))
      .stdout.toString()
      .trim();
    expect(reloaded).toBe(id);
  });
});
