import { startProxy } from "@powerstrip/proxy-core";
import {
  BASE_IMAGE,
  type DockerTarget,
  openTarget,
  removeLabelled,
  testLabels,
  uniqueName,
  withTimeout,
} from "@powerstrip/test-support";
import type Docker from "dockerode";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";

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

describe("websocket attach", () => {
  it("a line sent over /attach/ws comes back from cat", async () => {
    const container = await docker.createContainer({
      name: uniqueName("ws"),
      Image: BASE_IMAGE,
      Cmd: ["cat"],
      OpenStdin: true,
      Labels: testLabels(),
    });
    await container.start();

    const url = `ws+unix://${target.socketPath}:/containers/${container.id}/attach/ws?stream=1&stdin=1&stdout=1`;
    const ws = new WebSocket(url);
    try {
      await withTimeout(
        new Promise<void>((resolve, reject) => {
          ws.once("open", () => resolve());
          ws.once("error", reject);
          ws.once("unexpected-response", (_req, res) =>
            reject(new Error(`upgrade refused: HTTP ${res.statusCode}`)),
          );
        }),
        10_000,
        "the websocket to open",
      );

      let received = "";
      const echoed = new Promise<void>((resolve) => {
        ws.on("message", (data: WebSocket.RawData) => {
          received += Buffer.isBuffer(data) ? data.toString() : Buffer.from(data as ArrayBuffer).toString();
          if (received.includes("hello over websocket\n")) resolve();
        });
      });
      ws.send("hello over websocket\n");
      await withTimeout(echoed, 10_000, "the echo over the websocket");
      expect(received).toBe("hello over websocket\n");
    } finally {
      ws.terminate();
    }
  });
});
