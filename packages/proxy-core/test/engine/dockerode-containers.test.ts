import { randomBytes } from "node:crypto";
import { startProxy } from "@powerstrip/proxy-core";
import {
  BASE_IMAGE,
  type DockerTarget,
  makeTar,
  openTarget,
  RUN_ID,
  readTar,
  removeLabelled,
  StreamCollector,
  TEST_LABEL,
  testLabels,
  uniqueName,
  withTimeout,
} from "@powerstrip/test-support";
import type Docker from "dockerode";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

let target: DockerTarget;
let docker: Docker;
beforeAll(async () => {
  target = await openTarget(startProxy);
  docker = target.dockerode();
});
afterAll(async () => {
  await removeLabelled();
  await target?.close();
});

/** A created (not started) container running `cmd`. */
function create(purpose: string, cmd: string[]): Promise<Docker.Container> {
  return docker.createContainer({
    name: uniqueName(purpose),
    Image: BASE_IMAGE,
    Cmd: cmd,
    Labels: testLabels(),
  });
}

describe("dockerode: containers", () => {
  it("GET /_ping answers OK", async () => {
    const pong: unknown = await docker.ping();
    expect(Buffer.isBuffer(pong) ? pong.toString() : pong).toBe("OK");
  });

  it("lists a container by label", async () => {
    const container = await create("list", ["sleep", "infinity"]);
    const listed = await docker.listContainers({
      all: true,
      filters: { label: [`${TEST_LABEL}=${RUN_ID}`] },
    });
    const mine = listed.find((c) => c.Id === container.id);
    expect(mine?.Labels[TEST_LABEL]).toBe(RUN_ID);
    expect(mine?.State).toBe("created");
  });

  it("create, start, wait and remove", async () => {
    const container = await create("lifecycle", ["sh", "-c", "exit 7"]);
    // dockerode accepts only 204 (or 304) from start: resolving proves the 204 came through.
    await container.start();
    const result = (await withTimeout(container.wait(), 30_000, "container wait")) as { StatusCode: number };
    expect(result.StatusCode).toBe(7);
    await container.remove();
    await expect(container.inspect()).rejects.toMatchObject({ statusCode: 404 });
  });

  it("starting a running container answers 304", async () => {
    const container = await create("restart", ["sleep", "infinity"]);
    await container.start();
    await expect(container.start()).rejects.toMatchObject({ statusCode: 304 });
  });

  it("putArchive and getArchive move a file in and out intact", async () => {
    const container = await create("archive", ["sleep", "infinity"]);
    await container.start();
    const data = randomBytes(512 * 1024);
    await container.putArchive(makeTar([{ name: "blob.bin", data }]), { path: "/tmp" });

    const stream = await container.getArchive({ path: "/tmp/blob.bin" });
    const archive = await new StreamCollector(stream).waitForEnd(30_000);
    const entries = readTar(archive);
    expect(entries.map((e) => e.name)).toEqual(["blob.bin"]);
    expect(entries[0]!.data.equals(data)).toBe(true);
  });

  it("a pull that cannot reach its registry fails with Docker's error, promptly", async () => {
    // 127.0.0.1:1 refuses at once: a registry that is not there, with no traffic leaving the host.
    const ref = `127.0.0.1:1/${uniqueName("pull")}:latest`;
    const pull = withTimeout(docker.pull(ref), 20_000, "the pull to fail");
    await expect(pull).rejects.toMatchObject({ statusCode: 500 });
    // dockerode puts the engine's {"message"} into error.message after its own "(HTTP code 500) server error - ".
    const error = (await pull.catch((e: unknown) => e)) as Error;
    expect(error.message).toMatch(/127\.0\.0\.1:1.*connection refused/);
  });
});
