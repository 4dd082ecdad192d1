import { startProxy } from "@powerstrip/proxy-core";
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
  target = await openTarget(startProxy);
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

  it("HEAD of a missing container's archive answers 404 with a Content-Length but no body", async () => {
    // The engine announces the length of the error body it does not send: a proxy that waits for it hangs.
    const c = await connection();
    c.send({ method: "HEAD", path: `/v1.41/containers/${uniqueName("missing")}/archive?path=/` });
    const head = await c.readResponse("HEAD");
    expect(head.status).toBe(404);
    expect(Number(head.headers["content-length"])).toBeGreaterThan(0);
    expect(head.body.length).toBe(0);

    c.send({ method: "GET", path: "/_ping" });
    expect((await c.readResponse("GET")).body.toString()).toBe("OK");
  });

  it("HEAD of a file's archive answers 200 with the path-stat header", async () => {
    const container = await docker.createContainer({
      name: uniqueName("stat"),
      Image: BASE_IMAGE,
      Cmd: ["sleep", "infinity"],
      Labels: testLabels(),
    });
    await container.start();
    const c = await connection();
    c.send({ method: "HEAD", path: `/v1.41/containers/${container.id}/archive?path=/etc/hostname` });
    const head = await c.readResponse("HEAD");
    expect(head.status).toBe(200);
    const stat = JSON.parse(
      Buffer.from(head.headers["x-docker-container-path-stat"] ?? "", "base64").toString(),
    ) as {
      name: string;
    };
    expect(stat.name).toBe("hostname");

    c.send({ method: "GET", path: "/_ping" });
    expect((await c.readResponse("GET")).body.toString()).toBe("OK");
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

  it("pipelined requests are answered in order", async () => {
    const c = await connection();
    // Written in one go, before any response: the server must answer them one after the other.
    c.write(
      "GET /_ping HTTP/1.1\r\nHost: docker\r\n\r\n" +
        "GET /v1.41/version HTTP/1.1\r\nHost: docker\r\n\r\n" +
        "HEAD /_ping HTTP/1.1\r\nHost: docker\r\n\r\n" +
        "GET /_ping HTTP/1.1\r\nHost: docker\r\n\r\n",
    );
    expect((await c.readResponse("GET")).body.toString()).toBe("OK");
    const version = await c.readResponse("GET");
    expect((JSON.parse(version.body.toString()) as { ApiVersion: string }).ApiVersion).toBe("1.41");
    expect((await c.readResponse("HEAD")).status).toBe(200);
    expect((await c.readResponse("GET")).body.toString()).toBe("OK");
  });

  it("a chunked request body reaches the engine intact", async () => {
    const c = await connection();
    const name = uniqueName("chunked");
    const spec = JSON.stringify({
      Image: BASE_IMAGE,
      Cmd: ["true"],
      Labels: { ...testLabels(), chunked: "yes" },
    });
    const chunk = (part: string): string => `${Buffer.byteLength(part).toString(16)}\r\n${part}\r\n`;
    const middle = Math.floor(spec.length / 2);
    c.write(
      `POST /v1.41/containers/create?name=${name} HTTP/1.1\r\nHost: docker\r\nContent-Type: application/json\r\n` +
        `Transfer-Encoding: chunked\r\n\r\n${chunk(spec.slice(0, middle))}${chunk(spec.slice(middle))}0\r\n\r\n`,
    );
    const created = await c.readResponse("POST");
    expect(created.status).toBe(201);
    const info = await docker.getContainer(name).inspect();
    expect(info.Config.Labels.chunked).toBe("yes");

    c.send({ method: "GET", path: "/_ping" });
    expect((await c.readResponse("GET")).body.toString()).toBe("OK");
  });

  it("a request with Connection: close gets its response, then the connection closes", async () => {
    const c = await connection();
    c.send({ method: "GET", path: "/_ping", headers: { Connection: "close" } });
    const response = await c.readResponse("GET");
    expect(response.body.toString()).toBe("OK");
    expect(await c.readToEnd(5_000)).toHaveLength(0);
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
