import type { Socket } from "node:net";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { type RunningProxy, startProxy } from "./proxy.js";
import {
  contains,
  ended,
  type FakeEngine,
  openClient,
  readUntil,
  startFakeEngine,
} from "./testing/fake-engine.js";
import { tempDir } from "./testing/temp-dir.js";

const OK_PING = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nOK";

let engine: FakeEngine | undefined;
let proxy: RunningProxy | undefined;
const clients: Socket[] = [];

afterEach(async () => {
  for (const client of clients.splice(0)) client.destroy();
  await proxy?.close();
  await engine?.close();
  proxy = undefined;
  engine = undefined;
});

async function setUp(onUpstream: (socket: Socket) => void): Promise<{ client: Socket; engine: FakeEngine }> {
  engine = await startFakeEngine(onUpstream);
  const socketPath = join(tempDir("pst-proxy-"), "proxy.sock");
  proxy = await startProxy({ listen: [`unix://${socketPath}`], docker: `unix://${engine.path}` });
  const client = await openClient(socketPath);
  clients.push(client);
  return { client, engine };
}

/** An engine that answers every request head with `response` (a function of the request head). */
function answering(response: (head: string) => string) {
  return (socket: Socket) => {
    let buffered = "";
    socket.on("data", (chunk: Buffer) => {
      buffered += chunk.toString("latin1");
      let end = buffered.indexOf("\r\n\r\n");
      while (end !== -1) {
        const head = buffered.slice(0, end + 4);
        buffered = buffered.slice(end + 4);
        socket.write(response(head));
        end = buffered.indexOf("\r\n\r\n");
      }
    });
  };
}

const seenHeads: string[] = [];
const recordingPing = answering((head) => {
  seenHeads.push(head);
  return OK_PING;
});

describe("pass-through", () => {
  it("forwards a request and relays the response unchanged", async () => {
    const { client } = await setUp(recordingPing);
    seenHeads.length = 0;
    client.write("GET /_ping HTTP/1.1\r\nHost: docker\r\nUser-Agent: t\r\n\r\n");
    const answer = await readUntil(client, contains("\r\n\r\nOK"));
    expect(answer.toString()).toBe(OK_PING);
    expect(seenHeads).toEqual(["GET /_ping HTTP/1.1\r\nHost: docker\r\nUser-Agent: t\r\n\r\n"]);
  });

  it("serves several requests on one client connection over one kept-alive engine connection", async () => {
    const { client, engine } = await setUp(recordingPing);
    for (let i = 0; i < 3; i++) {
      client.write("GET /_ping HTTP/1.1\r\nHost: d\r\n\r\n");
      await readUntil(client, contains("\r\n\r\nOK"));
    }
    expect(engine.connections).toHaveLength(1);
  });

  it("answers pipelined requests in order", async () => {
    let n = 0;
    const { client } = await setUp(
      answering(() => {
        n++;
        return `HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nR${n}`;
      }),
    );
    client.write("GET /a HTTP/1.1\r\nHost: d\r\n\r\nGET /b HTTP/1.1\r\nHost: d\r\n\r\n");
    const answer = await readUntil(client, contains("R2"));
    expect(answer.toString()).toMatch(/R1[\s\S]*R2/);
  });

  it("drops hop-by-hop headers both ways, including those Connection names", async () => {
    seenHeads.length = 0;
    const { client } = await setUp(
      answering((head) => {
        seenHeads.push(head);
        return "HTTP/1.1 200 OK\r\nConnection: keep-alive\r\nKeep-Alive: timeout=5\r\nContent-Length: 1\r\n\r\nx";
      }),
    );
    client.write(
      "GET /info HTTP/1.1\r\nHost: d\r\nConnection: keep-alive, X-Private\r\nX-Private: 1\r\nTE: trailers\r\n\r\n",
    );
    const answer = (await readUntil(client, (b) => b.toString().endsWith("x"))).toString();
    expect(seenHeads[0]).toBe("GET /info HTTP/1.1\r\nHost: d\r\n\r\n");
    expect(answer).toBe("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx");
  });

  it("relays HEAD, 204 and 304 answers without waiting for a body, and keeps the connection usable", async () => {
    const answers = [
      "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n",
      "HTTP/1.1 204 No Content\r\n\r\n",
      "HTTP/1.1 304 Not Modified\r\n\r\n",
      OK_PING,
    ];
    let i = 0;
    const { client } = await setUp(answering(() => answers[i++]!));
    client.write("HEAD /_ping HTTP/1.1\r\nHost: d\r\n\r\n");
    await readUntil(client, contains("Content-Length: 100\r\n\r\n"));
    client.write("POST /containers/x/start HTTP/1.1\r\nHost: d\r\n\r\n");
    await readUntil(client, contains("204"));
    client.write("POST /containers/x/start HTTP/1.1\r\nHost: d\r\n\r\n");
    await readUntil(client, contains("304"));
    client.write("GET /_ping HTTP/1.1\r\nHost: d\r\n\r\n");
    await readUntil(client, contains("\r\n\r\nOK"));
  });

  it("relays 100 Continue before the final answer", async () => {
    const { client } = await setUp(answering(() => `HTTP/1.1 100 Continue\r\n\r\n${OK_PING}`));
    client.write("POST /build HTTP/1.1\r\nHost: d\r\nExpect: 100-continue\r\n\r\n");
    const answer = (await readUntil(client, contains("\r\n\r\nOK"))).toString();
    expect(answer.startsWith("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK")).toBe(true);
  });

  it("closes the client connection after a response framed by the engine closing", async () => {
    const { client } = await setUp((socket) =>
      socket.once("data", () =>
        socket.end('HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n{"a":1}'),
      ),
    );
    client.write("GET /x HTTP/1.1\r\nHost: d\r\n\r\n");
    const answer = (await readUntil(client, () => false).catch((e: Error) => e.message)) as string;
    expect(answer).toContain("Connection: close");
    expect(answer).toContain('{\\"a\\":1}');
  });

  it("honours a client's Connection: close", async () => {
    const { client } = await setUp(recordingPing);
    client.write("GET /_ping HTTP/1.1\r\nHost: d\r\nConnection: close\r\n\r\n");
    const answer = await readUntil(client, contains("\r\n\r\nOK"));
    expect(answer.toString()).toContain("Connection: close\r\n");
    await ended(client);
  });
});

describe("streams", () => {
  it("streams a request body to the engine as it arrives", async () => {
    let received = 0;
    let engineSocket: Socket | undefined;
    const { client } = await setUp((socket) => {
      engineSocket = socket;
      socket.on("data", (chunk: Buffer) => {
        received += chunk.length;
      });
    });
    client.write("PUT /containers/x/archive?path=/ HTTP/1.1\r\nHost: d\r\nContent-Length: 2000000\r\n\r\n");
    client.write(Buffer.alloc(1_000_000, 1));
    await expect.poll(() => received, { timeout: 2000 }).toBeGreaterThan(1_000_000);
    client.write(Buffer.alloc(1_000_000, 2));
    await expect.poll(() => received, { timeout: 2000 }).toBeGreaterThan(2_000_000);
    engineSocket!.write("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
    await readUntil(client, contains("200 OK"));
  });

  it("delivers each chunk of a chunked response before the next is sent", async () => {
    let engineSocket: Socket | undefined;
    const { client } = await setUp((socket) => {
      engineSocket = socket;
      socket.once("data", () =>
        socket.write("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nline1\r\n"),
      );
    });
    client.write("GET /containers/x/logs?follow=1 HTTP/1.1\r\nHost: d\r\n\r\n");
    await readUntil(client, contains("line1"));
    engineSocket!.write("5\r\nline2\r\n");
    await readUntil(client, contains("line2"));
    engineSocket!.write("0\r\n\r\n");
    await readUntil(client, contains("0\r\n\r\n"));
  });

  it("passes a client's half-close on to the engine, which ends a follow stream", async () => {
    let sawEnd = false;
    const { client } = await setUp((socket) => {
      socket.once("data", () =>
        socket.write("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\n"),
      );
      socket.on("end", () => {
        sawEnd = true;
        socket.end("0\r\n\r\n");
      });
    });
    client.write("GET /events HTTP/1.1\r\nHost: d\r\n\r\n");
    await readUntil(client, contains("1\r\na\r\n"));
    client.end();
    await expect.poll(() => sawEnd, { timeout: 2000 }).toBe(true);
    await ended(client);
  });
});

describe("upgrades and hijacked streams", () => {
  it("relays 101 and then raw bytes both ways, with half-close", async () => {
    let engineSocket: Socket | undefined;
    let upstreamHead = "";
    const { client } = await setUp((socket) => {
      engineSocket = socket;
      socket.once("data", (chunk: Buffer) => {
        upstreamHead = chunk.toString("latin1");
        // The 101 and the first stream bytes in one packet: both must reach the client.
        socket.write("HTTP/1.1 101 UPGRADED\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\nhello ");
        socket.on("data", (more: Buffer) => socket.write(more)); // echo
        socket.on("end", () => socket.end(" bye"));
      });
    });
    client.write(
      "POST /v1.41/containers/x/attach?stream=1&stdin=1&stdout=1 HTTP/1.1\r\nHost: d\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n",
    );
    const answer = await readUntil(client, contains("hello "));
    expect(answer.toString()).toMatch(/^HTTP\/1\.1 101 UPGRADED\r\n/);
    expect(upstreamHead).toContain("Connection: Upgrade\r\n");
    expect(upstreamHead).toContain("Upgrade: tcp\r\n");
    client.write("ping");
    await readUntil(client, contains("ping"));
    client.end(); // stdin closed: the engine sees it and finishes its side
    await readUntil(client, contains(" bye"));
    await ended(client);
    expect(engineSocket!.readableEnded).toBe(true);
  });

  it("puts bytes the client sent ahead of the 101 through to the engine", async () => {
    let afterHead = "";
    const { client } = await setUp((socket) => {
      let all = "";
      socket.on("data", (chunk: Buffer) => {
        all += chunk.toString("latin1");
        const end = all.indexOf("\r\n\r\n");
        if (end !== -1 && !afterHead) {
          setTimeout(
            () => socket.write("HTTP/1.1 101 UPGRADED\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n"),
            50,
          );
        }
        if (end !== -1) afterHead = all.slice(end + 4);
      });
    });
    client.write(
      "POST /exec/x/start HTTP/1.1\r\nHost: d\r\nConnection: Upgrade\r\nUpgrade: tcp\r\nContent-Length: 2\r\n\r\n{}early",
    );
    await readUntil(client, contains("101"));
    await expect.poll(() => afterHead, { timeout: 2000 }).toBe("{}early");
  });

  it("tunnels a hijacked 200 raw-stream that has no framing", async () => {
    const { client } = await setUp((socket) => {
      socket.once("data", () => {
        socket.write("HTTP/1.1 200 OK\r\nContent-Type: application/vnd.docker.raw-stream\r\n\r\n");
        socket.on("data", (more: Buffer) => socket.write(more));
      });
    });
    client.write("POST /containers/x/attach?stream=1&stdin=1 HTTP/1.1\r\nHost: d\r\n\r\n");
    await readUntil(client, contains("raw-stream\r\n\r\n"));
    client.write("echo me");
    await readUntil(client, contains("echo me"));
  });
});

describe("refused requests", () => {
  it.each([
    ["Content-Length with Transfer-Encoding", "Content-Length: 4\r\nTransfer-Encoding: chunked\r\n"],
    ["two Content-Length headers", "Content-Length: 4\r\nContent-Length: 5\r\n"],
    ["an unknown Transfer-Encoding", "Transfer-Encoding: identity\r\n"],
  ])("refuses %s with 400 in Docker's error shape, forwarding nothing", async (_, headers) => {
    const { client, engine } = await setUp(recordingPing);
    client.write(`POST /containers/create HTTP/1.1\r\nHost: d\r\n${headers}\r\n0\r\n\r\n`);
    const answer = await readUntil(client, () => false).catch((e: Error) => e.message);
    expect(answer).toMatch(/HTTP\/1\.1 400 Bad Request/);
    expect(answer).toContain('{\\"message\\":');
    await ended(client);
    expect(engine.connections).toHaveLength(0);
  });

  it("refuses a malformed chunked request body mid-stream with 400", async () => {
    const { client } = await setUp(() => {});
    client.write("POST /build HTTP/1.1\r\nHost: d\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nabcdeXX");
    const answer = await readUntil(client, contains("}\n"));
    expect(answer.toString()).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n[\s\S]*malformed chunked body/);
    await ended(client);
  });

  it("refuses a request head over 64 KiB with 431", async () => {
    const { client } = await setUp(recordingPing);
    client.write(`GET / HTTP/1.1\r\nX-Big: ${"a".repeat(70 * 1024)}`);
    const answer = await readUntil(client, contains("}\n"));
    expect(answer.toString()).toMatch(/^HTTP\/1\.1 431 /);
  });
});

describe("failures", () => {
  it("answers 503 in Docker's error shape at once when the engine is not there", async () => {
    const socketPath = join(tempDir("pst-proxy-"), "proxy.sock");
    proxy = await startProxy({ listen: [`unix://${socketPath}`], docker: "unix:///nonexistent/docker.sock" });
    const client = await openClient(socketPath);
    clients.push(client);
    const started = Date.now();
    client.write("GET /_ping HTTP/1.1\r\nHost: d\r\n\r\n");
    const answer = (await readUntil(client, contains("}\n"))).toString();
    expect(Date.now() - started).toBeLessThan(1000);
    expect(answer).toMatch(/^HTTP\/1\.1 503 Service Unavailable\r\n/);
    expect(answer).toContain("Content-Type: application/json");
    const body = JSON.parse(answer.slice(answer.indexOf("\r\n\r\n") + 4)) as { message: string };
    expect(body.message).toMatch(/cannot reach the Docker engine at unix:\/\/\/nonexistent\/docker\.sock/);
    // The connection stays usable: the next request gets its own answer.
    client.write("GET /_ping HTTP/1.1\r\nHost: d\r\n\r\n");
    await readUntil(client, contains("503"));
  });

  it("answers 502 when the engine hangs up before answering", async () => {
    const { client } = await setUp((socket) => socket.once("data", () => socket.destroy()));
    client.write("GET /info HTTP/1.1\r\nHost: d\r\n\r\n");
    const answer = (await readUntil(client, contains("}\n"))).toString();
    expect(answer).toMatch(/^HTTP\/1\.1 502 Bad Gateway\r\n/);
  });

  it("cuts the client when the engine hangs up mid-body, rather than ending the body short", async () => {
    const { client } = await setUp((socket) =>
      socket.once("data", () => {
        socket.write("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial");
        setTimeout(() => socket.destroy(), 20);
      }),
    );
    client.write("GET /containers/x/export HTTP/1.1\r\nHost: d\r\n\r\n");
    let received = "";
    client.on("data", (chunk: Buffer) => {
      received += chunk.toString("latin1");
    });
    await ended(client);
    // The stream ends short of its Content-Length: the client knows the body is incomplete.
    expect(received).toContain("Content-Length: 100\r\n\r\npartial");
    expect(received.length - received.indexOf("\r\n\r\n") - 4).toBeLessThan(100);
  });

  it("tears the engine request down when the client aborts mid-response", async () => {
    let engineClosed = false;
    const { client } = await setUp((socket) => {
      // A follow stream that ignores half-closes and keeps writing, as a slow log would.
      socket.once("data", () => {
        socket.write("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\n");
        const timer = setInterval(() => socket.writable && socket.write("1\r\nb\r\n"), 20);
        socket.on("close", () => {
          clearInterval(timer);
          engineClosed = true;
        });
      });
    });
    client.write("GET /containers/x/logs?follow=1 HTTP/1.1\r\nHost: d\r\n\r\n");
    await readUntil(client, contains("1\r\na\r\n"));
    client.destroy();
    await expect.poll(() => engineClosed, { timeout: 2000 }).toBe(true);
  });

  it("closes the client connection when the engine answers before the whole request body came", async () => {
    const { client } = await setUp((socket) =>
      socket.once("data", () =>
        socket.write(
          'HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\nContent-Length: 16\r\n\r\n{"message":"no"}',
        ),
      ),
    );
    client.write("POST /build HTTP/1.1\r\nHost: d\r\nContent-Length: 1000\r\n\r\nabc");
    const answer = await readUntil(client, contains('"no"}'));
    expect(answer.toString()).toContain("Connection: close\r\n");
    await ended(client);
  });
});
