import { createHash, randomBytes } from "node:crypto";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startProxy } from "@powerstrip/proxy-core";
import {
  BASE_IMAGE,
  containerFlags,
  type DockerTarget,
  openTarget,
  removeLabelled,
  succeeded,
  uniqueName,
} from "@powerstrip/test-support";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const SIZE = 64 * 1024 * 1024;

let target: DockerTarget;
let dir: string;
beforeAll(async () => {
  target = await openTarget(startProxy);
  dir = await mkdtemp(join(tmpdir(), "pst-cp-"));
});
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
  await removeLabelled();
  await target?.close();
});

const sha256 = (data: Buffer): string => createHash("sha256").update(data).digest("hex");

async function idleContainer(): Promise<string> {
  const name = uniqueName("cp");
  succeeded(await target.docker(["run", "-d", ...containerFlags(name), BASE_IMAGE, "sleep", "infinity"]));
  return name;
}

/** sha256sum of a file inside the container, as the container computes it. */
async function hashInside(name: string, path: string): Promise<string> {
  const result = succeeded(await target.docker(["exec", name, "sha256sum", path]));
  return result.stdout.toString().split(" ")[0]!;
}

describe("docker CLI: cp", () => {
  it("copies a 64 MiB random file into a container intact", async () => {
    const name = await idleContainer();
    const data = randomBytes(SIZE);
    const local = join(dir, "in.bin");
    await writeFile(local, data);
    succeeded(await target.docker(["cp", local, `${name}:/tmp/in.bin`]));
    expect(await hashInside(name, "/tmp/in.bin")).toBe(sha256(data));
  });

  it("copies a 64 MiB random file out of a container intact", async () => {
    const name = await idleContainer();
    succeeded(
      await target.docker([
        "exec",
        name,
        "dd",
        "if=/dev/urandom",
        "of=/tmp/out.bin",
        "bs=1M",
        "count=64",
        "iflag=fullblock",
      ]),
    );
    const expected = await hashInside(name, "/tmp/out.bin");
    const local = join(dir, "out.bin");
    succeeded(await target.docker(["cp", `${name}:/tmp/out.bin`, local]));
    const data = await readFile(local);
    expect(data.length).toBe(SIZE);
    expect(sha256(data)).toBe(expected);
  });
});
