import { randomBytes } from "node:crypto";
import { startProxy } from "@powerstrip/proxy-core";
import {
  BASE_IMAGE,
  type DockerTarget,
  demux,
  openTarget,
  RawConnection,
  removeLabelled,
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

/** Reads multiplexed frames until stdout holds `length` bytes. */
async function readStdout(
  c: RawConnection,
  length: number,
  already: Buffer,
): Promise<{ stdout: Buffer; rest: Buffer }> {
  let bytes = already;
  for (;;) {
    const { stdout, rest } = demux(bytes);
    if (stdout.length >= length) return { stdout, rest };
    // At least one more frame header, or the remainder of a partial frame.
    const need = rest.length < 8 ? 8 - rest.length : rest.readUInt32BE(4) + 8 - rest.length;
    bytes = Buffer.concat([bytes, await c.readBytes(need)]);
  }
}

describe("Upgrade: tcp attach by hand", () => {
  it("relays the 101, carries bytes both ways, and a half-close ends stdin and then the stream", async () => {
    const container = await docker.createContainer({
      name: uniqueName("upgrade"),
      Image: BASE_IMAGE,
      Cmd: ["cat"],
      OpenStdin: true,
      StdinOnce: true,
      AttachStdin: true,
      AttachStdout: true,
      AttachStderr: true,
      Labels: testLabels(),
    });
    const c = await RawConnection.open(target.socketPath);
    try {
      c.send({
        method: "POST",
        path: `/v1.41/containers/${container.id}/attach?stream=1&stdin=1&stdout=1&stderr=1`,
        headers: { Connection: "Upgrade", Upgrade: "tcp" },
      });
      const switched = await c.readResponse("POST");
      expect(switched.status).toBe(101);
      expect(switched.headers.upgrade).toBe("tcp");
      expect(switched.headers.connection?.toLowerCase()).toBe("upgrade");
      expect(switched.headers["content-type"]).toBe("application/vnd.docker.raw-stream");

      await container.start();
      c.write("ping\n");
      const first = await readStdout(c, 5, Buffer.alloc(0));
      expect(first.stdout.toString()).toBe("ping\n");

      // Enough to need many reads and writes on both legs.
      const blob = randomBytes(1024 * 1024);
      c.write(blob);
      const second = await readStdout(c, blob.length, first.rest);
      expect(second.stdout.length).toBe(blob.length);
      expect(second.stdout.equals(blob)).toBe(true);

      // Half-close: our FIN must reach cat's stdin; cat exits and the engine ends the stream.
      c.end();
      const tail = await c.readToEnd(15_000);
      expect(demux(Buffer.concat([second.rest, tail])).stdout.length).toBe(0);
      const result = (await withTimeout(container.wait(), 15_000, "cat to exit")) as { StatusCode: number };
      expect(result.StatusCode).toBe(0);
    } finally {
      c.destroy();
    }
  });
});
