import {
  BASE_IMAGE,
  type DockerTarget,
  isDirectMode,
  openTarget,
  RawConnection,
  removeLabelled,
  testLabels,
  uniqueName,
} from "@powerstrip/test-support";
import type Docker from "dockerode";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";

let target: DockerTarget;
let docker: Docker;
const connections: RawConnection[] = [];
beforeAll(async () => {
  target = await openTarget();
  docker = target.dockerode();
});
afterEach(() => {
  for (const c of connections.splice(0)) c.destroy();
});
afterAll(async () => {
  await removeLabelled();
  await target?.close();
});

async function connection(): Promise<RawConnection> {
  const c = await RawConnection.open(target.socketPath);
  connections.push(c);
  return c;
}

describe("raw HTTP/1.1 over the socket", () => {
  it("HEAD /_ping answers 200 with no body, and the connection stays usable", async () => {
    const c = await connection();
    c.send({ method: "HEAD", path: "/_ping" });
    const head = await c.readResponse("HEAD");
    expect(head.status).toBe(200);
    expect(head.headers["api-version"]).toBeDefined();
    expect(head.body.length).toBe(0);

    c.send({ method: "GET", path: "/_ping" });
    const get = await c.readResponse("GET");
    expect(get.status).toBe(200);
    expect(get.body.toString()).toBe("OK");
  });

  it("starting a started container answers 304 with no body, and the connection stays usable", async () => {
    const container = await docker.createContainer({
      name: uniqueName("raw304"),
      Image: BASE_IMAGE,
      Cmd: ["sleep", "infinity"],
      Labels: testLabels(),
    });
    await container.start();
    const c = await connection();
    c.send({ method: "POST", path: `/v1.41/containers/${container.id}/start`, body: "" });
    const again = await c.readResponse("POST");
    expect(again.status).toBe(304);
    expect(again.body.length).toBe(0);

    c.send({ method: "GET", path: "/_ping" });
    expect((await c.readResponse("GET")).body.toString()).toBe("OK");
  });

  it("one keep-alive connection carries a sequence of different requests", async () => {
    const c = await connection();
    const name = uniqueName("keepalive");

    c.send({ method: "GET", path: "/_ping" });
    expect((await c.readResponse("GET")).body.toString()).toBe("OK");

    c.send({ method: "GET", path: "/v1.41/version" });
    const version = await c.readResponse("GET");
    expect(version.status).toBe(200);
    expect((JSON.parse(version.body.toString()) as { ApiVersion: string }).ApiVersion).toBe("1.41");

    const spec = JSON.stringify({ Image: BASE_IMAGE, Cmd: ["true"], Labels: testLabels() });
    c.send({
      method: "POST",
      path: `/v1.41/containers/create?name=${name}`,
      headers: { "Content-Type": "application/json" },
      body: spec,
    });
    const created = await c.readResponse("POST");
    expect(created.status).toBe(201);
    const id = (JSON.parse(created.body.toString()) as { Id: string }).Id;

    c.send({
      method: "GET",
      path: `/v1.41/containers/json?all=1&filters=${encodeURIComponent(JSON.stringify({ name: [name] }))}`,
    });
    const listed = await c.readResponse("GET");
    expect((JSON.parse(listed.body.toString()) as Array<{ Id: string }>).map((x) => x.Id)).toEqual([id]);

    c.send({ method: "DELETE", path: `/v1.41/containers/${id}?force=1` });
    expect((await c.readResponse("DELETE")).status).toBe(204);

    c.send({ method: "GET", path: `/v1.41/containers/${id}/json` });
    const gone = await c.readResponse("GET");
    expect(gone.status).toBe(404);
    expect(JSON.parse(gone.body.toString())).toEqual({ message: `No such container: ${id}` });
    expect(c.peerEnded).toBe(false);
  });
});

// Request smuggling guards are the proxy's own; the engine's answers to these may differ.
describe.skipIf(isDirectMode())("malformed framing is refused by the proxy", () => {
  it("Content-Length together with Transfer-Encoding → 400 and the connection closes", async () => {
    const c = await connection();
    c.write(
      "POST /v1.41/containers/create HTTP/1.1\r\nHost: docker\r\nContent-Type: application/json\r\n" +
        "Content-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n",
    );
    const response = await c.readResponse("POST");
    expect(response.status).toBe(400);
    await c.readToEnd(5_000);
    expect(c.peerEnded).toBe(true);
  });

  it("two different Content-Length headers → 400 and the connection closes", async () => {
    const c = await connection();
    c.write(
      "POST /v1.41/containers/create HTTP/1.1\r\nHost: docker\r\nContent-Type: application/json\r\n" +
        "Content-Length: 2\r\nContent-Length: 3\r\n\r\n{} ",
    );
    const response = await c.readResponse("POST");
    expect(response.status).toBe(400);
    await c.readToEnd(5_000);
    expect(c.peerEnded).toBe(true);
  });
});
