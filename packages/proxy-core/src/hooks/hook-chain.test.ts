import type { Socket } from "node:net";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { type RunningProxy, startProxy } from "../proxy.js";
import { type FakeAdapter, startFakeAdapter } from "../testing/fake-adapter.js";
import { contains, type FakeEngine, openClient, readUntil, startFakeEngine } from "../testing/fake-engine.js";
import { tempDir } from "../testing/temp-dir.js";

/** A fake engine that records each request (head and body) and answers with a JSON document. */
interface Recorded {
  head: string;
  body: string;
}

let engine: FakeEngine | undefined;
let proxy: RunningProxy | undefined;
const adapters: FakeAdapter[] = [];
const clients: Socket[] = [];

afterEach(async () => {
  for (const client of clients.splice(0)) client.destroy();
  await proxy?.close();
  await engine?.close();
  for (const adapter of adapters.splice(0)) await adapter.close();
  proxy = undefined;
  engine = undefined;
});

function recordingEngine(seen: Recorded[], answer: (r: Recorded) => string) {
  return (socket: Socket) => {
    let buffered = Buffer.alloc(0);
    socket.on("data", (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      for (;;) {
        const end = buffered.indexOf("\r\n\r\n");
        if (end === -1) return;
        const head = buffered.subarray(0, end + 4).toString("latin1");
        const length = Number(/content-length: (\d+)/i.exec(head)?.[1] ?? 0);
        if (buffered.length < end + 4 + length) return;
        const record = { head, body: buffered.subarray(end + 4, end + 4 + length).toString() };
        buffered = buffered.subarray(end + 4 + length);
        seen.push(record);
        socket.write(answer(record));
      }
    });
  };
}

const json = (status: number, body: unknown, extra = "") => {
  const text = JSON.stringify(body);
  return `HTTP/1.1 ${status} OK\r\nContent-Type: application/json\r\n${extra}Content-Length: ${Buffer.byteLength(text)}\r\n\r\n${text}`;
};

async function setUp(
  seen: Recorded[],
  answer: (r: Recorded) => string,
  ...fakes: Parameters<typeof startFakeAdapter>[0][]
) {
  engine = await startFakeEngine(recordingEngine(seen, answer));
  const socketPath = join(tempDir("pst-proxy-"), "proxy.sock");
  proxy = await startProxy({
    listen: [`unix://${socketPath}`],
    docker: `unix://${engine.path}`,
    maxBodyBytes: 4096,
  });
  for (const options of fakes) {
    const fake = await startFakeAdapter(options);
    adapters.push(fake);
    proxy.hooks.register(fake.adapter);
  }
  const client = await openClient(socketPath);
  clients.push(client);
  return client;
}

function post(path: string, body: unknown): string {
  const text = JSON.stringify(body);
  return `POST ${path} HTTP/1.1\r\nHost: d\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(text)}\r\n\r\n${text}`;
}

async function answerOf(client: Socket): Promise<{ status: number; head: string; body: unknown }> {
  const raw = (
    await readUntil(client, (b) => {
      const text = b.toString();
      const end = text.indexOf("\r\n\r\n");
      if (end === -1) return false;
      const length = Number(/content-length: (\d+)/i.exec(text.slice(0, end))?.[1] ?? -1);
      return length >= 0 && Buffer.byteLength(text) >= end + 4 + length;
    })
  ).toString();
  const end = raw.indexOf("\r\n\r\n");
  const bodyText = raw.slice(end + 4);
  return {
    status: Number(raw.slice(9, 12)),
    head: raw.slice(0, end + 4),
    body: bodyText ? JSON.parse(bodyText) : undefined,
  };
}

const createHook = [{ method: "POST", path: "/containers/create", stage: "pre" as const }];

describe("pre-hooks", () => {
  it("rewrite the body the engine gets, with a fresh Content-Length, on prefixed and unprefixed paths", async () => {
    const seen: Recorded[] = [];
    const client = await setUp(seen, () => json(201, { Id: "abc" }), {
      name: "labeller",
      hooks: createHook,
      reply: (m) => {
        const request = m.request as { body: { Labels?: object } };
        return { action: "rewrite", body: { ...request.body, Labels: { seen: "yes" } } };
      },
    });
    for (const prefix of ["", "/v1.41"]) {
      client.write(post(`${prefix}/containers/create?name=x`, { Image: "busybox" }));
      const answer = await answerOf(client);
      expect(answer.status).toBe(201);
    }
    expect(seen.map((r) => JSON.parse(r.body))).toEqual([
      { Image: "busybox", Labels: { seen: "yes" } },
      { Image: "busybox", Labels: { seen: "yes" } },
    ]);
    expect(seen[1]!.head).toMatch(/^POST \/v1\.41\/containers\/create\?name=x HTTP\/1\.1\r\n/);
    expect(seen[0]!.head).toContain(`Content-Length: ${Buffer.byteLength(seen[0]!.body)}\r\n`);
  });

  it("send the hook call the protocol describes", async () => {
    const seen: Recorded[] = [];
    let call: Record<string, unknown> | undefined;
    const client = await setUp(seen, () => json(204, {}), {
      name: "watcher",
      hooks: [{ method: "POST", path: "/containers/{id}/start", stage: "pre" }],
      reply: (m) => {
        call = m;
        return { action: "allow" };
      },
    });
    client.write(
      "POST /v1.41/containers/ab%2Fc/start?detachKeys=x&a=1&a=2 HTTP/1.1\r\nHost: d\r\nX-Trace: t\r\nConnection: keep-alive\r\n\r\n",
    );
    await readUntil(client, contains("204"));
    expect(call).toMatchObject({
      version: "2",
      adapter: "watcher",
      stage: "pre",
      hook: "POST /containers/{id}/start",
      request: {
        method: "POST",
        path: "/containers/ab%2Fc/start",
        apiVersion: "1.41",
        params: { id: "ab/c" },
        query: { detachKeys: "x", a: ["1", "2"] },
        headers: { host: "d", "x-trace": "t" },
      },
    });
    expect(typeof call!.requestId).toBe("string");
  });

  it("apply a JSON Patch, query and header edits", async () => {
    const seen: Recorded[] = [];
    const client = await setUp(seen, () => json(201, {}), {
      name: "patcher",
      hooks: createHook,
      reply: () => ({
        action: "rewrite",
        patch: [{ op: "add", path: "/Env", value: ["A=1"] }],
        query: { set: { name: "renamed" } },
        headers: { set: { "x-meta-added": "1" }, remove: ["x-meta-removed"] },
      }),
    });
    client.write(
      post("/containers/create?name=orig", { Image: "i" }).replace(
        "Host: d\r\n",
        "Host: d\r\nX-Meta-Removed: 1\r\n",
      ),
    );
    const answer = await answerOf(client);
    expect(answer.body).toEqual({});
    expect(JSON.parse(seen[0]!.body)).toEqual({ Image: "i", Env: ["A=1"] });
    expect(seen[0]!.head).toMatch(/^POST \/containers\/create\?name=renamed /);
    expect(seen[0]!.head).toContain("x-meta-added: 1\r\n");
    expect(seen[0]!.head).not.toContain("X-Meta-Removed");
  });

  it("deny with Docker's error shape, and the engine never hears of it", async () => {
    const seen: Recorded[] = [];
    const client = await setUp(seen, () => json(201, {}), {
      name: "policy",
      hooks: createHook,
      reply: () => ({ action: "deny", status: 403, message: "no bad images" }),
    });
    client.write(post("/containers/create", { Image: "bad" }));
    const answer = await answerOf(client);
    console.log(JSON.stringify(answer.body));
    expect(answer.status).toBe(403);
    expect(answer.body).toEqual({ message: "no bad images" });
    expect(seen).toHaveLength(0);
    // The connection carries on.
    client.write("GET /_ping HTTP/1.1\r\nHost: d\r\n\r\n");
    expect((await answerOf(client)).status).toBe(201);
    expect(seen).toHaveLength(1);
  });

  it("run in priority order, then name, each seeing the rewrites before it", async () => {
    const seen: Recorded[] = [];
    const order: string[] = [];
    const appender = (name: string, priority: number) => ({
      name,
      priority,
      hooks: createHook,
      reply: (m: Record<string, unknown>) => {
        order.push(name);
        const body = (m.request as { body: { Steps: string[] } }).body;
        return { action: "rewrite", body: { ...body, Steps: [...body.Steps, name] } };
      },
    });
    const client = await setUp(
      seen,
      () => json(201, {}),
      appender("zeta", 10),
      appender("beta", 50),
      appender("alpha", 50),
    );
    client.write(post("/containers/create", { Steps: [] }));
    await answerOf(client);
    expect(order).toEqual(["zeta", "alpha", "beta"]);
    expect(JSON.parse(seen[0]!.body)).toEqual({ Steps: ["zeta", "alpha", "beta"] });
  });

  it("refuse a hooked body over the limit with 413", async () => {
    const seen: Recorded[] = [];
    const client = await setUp(seen, () => json(201, {}), {
      name: "big",
      hooks: createHook,
      reply: () => ({ action: "allow" }),
    });
    client.write(post("/containers/create", { Pad: "x".repeat(5000) }));
    const answer = await answerOf(client);
    expect(answer.status).toBe(413);
    expect((answer.body as { message: string }).message).toMatch(/larger than 4096 bytes/);
    expect(seen).toHaveLength(0);
  });

  it("leave calls no hook matches on the pass-through path", async () => {
    const seen: Recorded[] = [];
    const fakeCalls: unknown[] = [];
    const client = await setUp(seen, () => json(200, []), {
      name: "narrow",
      hooks: createHook,
      reply: (m) => {
        fakeCalls.push(m);
        return { action: "allow" };
      },
    });
    client.write("GET /v1.41/containers/json HTTP/1.1\r\nHost: d\r\n\r\n");
    await answerOf(client);
    client.write(post("/containers/create/extra", {}));
    await answerOf(client);
    expect(fakeCalls).toHaveLength(0);
  });
});

describe("post-hooks", () => {
  it("rewrite an ordinary response, and run in the reverse order of pre-hooks", async () => {
    const seen: Recorded[] = [];
    const order: string[] = [];
    const tagger = (name: string, priority: number) => ({
      name,
      priority,
      hooks: [{ method: "GET", path: "/containers/json", stage: "post" as const }],
      reply: (m: Record<string, unknown>) => {
        order.push(name);
        const body = (m.response as { body: string[] }).body;
        return { action: "rewrite", body: [...body, name] };
      },
    });
    const client = await setUp(seen, () => json(200, ["engine"]), tagger("first", 1), tagger("second", 2));
    client.write("GET /containers/json HTTP/1.1\r\nHost: d\r\n\r\n");
    const answer = await answerOf(client);
    expect(order).toEqual(["second", "first"]);
    expect(answer.body).toEqual(["engine", "second", "first"]);
  });

  it("read a chunked JSON response whole, and relay it byte for byte when no hook changes it", async () => {
    const seen: Recorded[] = [];
    let sawBody: unknown;
    const chunked =
      "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n3\r\n[1,\r\n2\r\n2]\r\n0\r\n\r\n";
    const client = await setUp(seen, () => chunked, {
      name: "reader",
      hooks: [{ method: "GET", path: "/images/json", stage: "post" }],
      reply: (m) => {
        sawBody = (m.response as { body: unknown }).body;
        return { action: "pass" };
      },
    });
    client.write("GET /images/json HTTP/1.1\r\nHost: d\r\n\r\n");
    const raw = await readUntil(client, contains("0\r\n\r\n"));
    expect(raw.toString()).toBe(chunked);
    expect(sawBody).toEqual([1, 2]);
  });

  it("see only the head of a streamed response, which flows on untouched", async () => {
    const seen: Recorded[] = [];
    let call: Record<string, unknown> | undefined;
    const stream =
      "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nevent\r\n";
    const client = await setUp(seen, () => stream, {
      name: "observer",
      hooks: [{ method: "GET", path: "/events", stage: "post" }],
      reply: (m) => {
        call = m;
        return { action: "rewrite", body: { hidden: true } };
      },
    });
    client.write("GET /events HTTP/1.1\r\nHost: d\r\n\r\n");
    const raw = await readUntil(client, contains("event\r\n"));
    expect(raw.toString()).toBe(stream);
    await expect.poll(() => call).toBeDefined();
    expect(call!.response).toMatchObject({ status: 200, streamed: true, bodyOmitted: "streamed" });
  });
});

describe("failure policy", () => {
  const failures: [string, unknown, number, RegExp][] = [
    ["a timeout", { hang: true }, 504, /timed out after 200 ms/],
    ["a crash mid-call", { destroy: true }, 502, /cannot reach it|socket hang up/],
    ["a non-JSON reply", { raw: "<html>oops" }, 502, /not JSON/],
    ["a reply against the schema", { action: "maybe" }, 502, /invalid pre-hook reply: action/],
    ["an error status", { raw: '{"message":"kaput"}', status: 500 }, 502, /HTTP 500: kaput/],
    [
      "a forbidden header edit",
      { action: "rewrite", headers: { set: { host: "evil" } } },
      502,
      /headers\.set: key "host"/,
    ],
  ];

  it.each(failures)(
    "fail closed on %s with a prompt error naming the adapter",
    async (_, reply, status, message) => {
      const seen: Recorded[] = [];
      const client = await setUp(seen, () => json(201, {}), {
        name: "flaky",
        hooks: createHook,
        timeoutMs: 200,
        reply: () => reply,
      });
      const started = Date.now();
      client.write(post("/containers/create", {}));
      const answer = await answerOf(client);
      expect(Date.now() - started).toBeLessThan(1500);
      expect(answer.status).toBe(status);
      expect((answer.body as { message: string }).message).toMatch(/adapter "flaky" failed/);
      expect((answer.body as { message: string }).message).toMatch(message);
      expect(seen).toHaveLength(0);
    },
  );

  it.each(failures)("skip the adapter on %s when its policy is ignore", async (_, reply) => {
    const seen: Recorded[] = [];
    const client = await setUp(seen, () => json(201, { Id: "ok" }), {
      name: "flaky",
      hooks: createHook,
      timeoutMs: 200,
      failurePolicy: "ignore",
      reply: () => reply,
    });
    client.write(post("/containers/create", { Image: "i" }));
    const answer = await answerOf(client);
    expect(answer.status).toBe(201);
    expect(JSON.parse(seen[0]!.body)).toEqual({ Image: "i" });
  });

  it("replace the response when a post-hook fails closed", async () => {
    const seen: Recorded[] = [];
    const client = await setUp(seen, () => json(200, []), {
      name: "broken-post",
      hooks: [{ method: "GET", path: "/containers/json", stage: "post" }],
      reply: () => ({ raw: "nope" }),
    });
    client.write("GET /containers/json HTTP/1.1\r\nHost: d\r\n\r\n");
    const answer = await answerOf(client);
    expect(answer.status).toBe(502);
    expect((answer.body as { message: string }).message).toMatch(/adapter "broken-post" failed/);
  });
});

describe("legacy v1 adapters", () => {
  it("get the 2015 messages and may rewrite the request line and body", async () => {
    const seen: Recorded[] = [];
    let call: Record<string, unknown> | undefined;
    const client = await setUp(seen, () => json(201, {}), {
      name: "old",
      protocolVersion: "1",
      hooks: createHook,
      reply: (m) => {
        call = m;
        const request = m.ClientRequest as { Method: string; Request: string; Body: string };
        const body = JSON.parse(request.Body) as object;
        return {
          PowerstripProtocolVersion: 1,
          ModifiedClientRequest: {
            Method: request.Method,
            Request: `${request.Request}&legacy=1`,
            Body: JSON.stringify({ ...body, Hostname: "from-2015" }),
          },
        };
      },
    });
    client.write(post("/v1.41/containers/create?name=a", { Image: "i" }));
    await answerOf(client);
    expect(call).toEqual({
      PowerstripProtocolVersion: 1,
      Type: "pre-hook",
      ClientRequest: { Method: "POST", Request: "/v1.41/containers/create?name=a", Body: '{"Image":"i"}' },
    });
    expect(seen[0]!.head).toMatch(/^POST \/v1\.41\/containers\/create\?name=a&legacy=1 /);
    expect(JSON.parse(seen[0]!.body)).toEqual({ Image: "i", Hostname: "from-2015" });
  });
});

describe("legacy v1 answers", () => {
  it("relay a 2015 adapter's error status to the client, as the prototype did", async () => {
    const seen: Recorded[] = [];
    const client = await setUp(seen, () => json(201, {}), {
      name: "old-policy",
      protocolVersion: "1",
      hooks: createHook,
      reply: () => ({ raw: "privileged containers are not allowed", status: 403 }),
    });
    client.write(post("/containers/create", { Image: "i" }));
    const answer = await answerOf(client);
    expect(answer.status).toBe(403);
    expect(answer.body).toEqual({ message: "privileged containers are not allowed" });
    expect(seen).toHaveLength(0);
  });

  it("take a null Body as no body", async () => {
    const seen: Recorded[] = [];
    const client = await setUp(seen, () => json(201, {}), {
      name: "old-null",
      protocolVersion: "1",
      hooks: createHook,
      reply: (m) => ({
        PowerstripProtocolVersion: 1,
        ModifiedClientRequest: { ...(m.ClientRequest as object), Body: null },
      }),
    });
    client.write(post("/containers/create", { Image: "i" }));
    await answerOf(client);
    expect(seen[0]!.body).toBe("");
    expect(seen[0]!.head).toContain("Content-Length: 0\r\n");
  });
});

describe("credentials", () => {
  it("never reach adapters, and still reach the engine", async () => {
    const seen: Recorded[] = [];
    let headers: Record<string, string> | undefined;
    const client = await setUp(seen, () => json(200, {}), {
      name: "curious",
      hooks: [{ method: "POST", path: "/images/create", stage: "pre" }],
      reply: (m) => {
        headers = (m.request as { headers: Record<string, string> }).headers;
        return { action: "allow" };
      },
    });
    client.write(
      "POST /images/create?fromImage=x HTTP/1.1\r\nHost: d\r\nX-Registry-Auth: c2VjcmV0\r\nAuthorization: Bearer t\r\n\r\n",
    );
    await answerOf(client);
    expect(headers).toEqual({ host: "d" });
    expect(seen[0]!.head).toContain("X-Registry-Auth: c2VjcmV0\r\n");
  });
});

describe("bodies the engine could read differently from the hooks", () => {
  it("reach the engine re-serialized, so duplicate keys cannot smuggle a setting past a policy", async () => {
    const seen: Recorded[] = [];
    let judged: unknown;
    const client = await setUp(seen, () => json(201, {}), {
      name: "policy",
      hooks: createHook,
      reply: (m) => {
        judged = (m.request as { body: unknown }).body;
        return { action: "allow" };
      },
    });
    const text = '{"Image":"i","HostConfig":{"Privileged":true},"HostConfig":{"NetworkMode":"none"}}';
    client.write(
      `POST /containers/create HTTP/1.1\r\nHost: d\r\nContent-Type: application/json\r\nContent-Length: ${text.length}\r\n\r\n${text}`,
    );
    await answerOf(client);
    expect(judged).toEqual({ Image: "i", HostConfig: { NetworkMode: "none" } });
    expect(seen[0]!.body).toBe(JSON.stringify(judged));
  });

  it("are refused with 400 when they claim JSON but do not parse (the engine accepts trailing bytes)", async () => {
    const seen: Recorded[] = [];
    const client = await setUp(seen, () => json(201, {}), {
      name: "policy",
      hooks: createHook,
      reply: () => ({ action: "allow" }),
    });
    const text = '{"Image":"i"} {"HostConfig":{"Privileged":true}}';
    client.write(
      `POST /containers/create HTTP/1.1\r\nHost: d\r\nContent-Type: application/json\r\nContent-Length: ${text.length}\r\n\r\n${text}`,
    );
    const answer = await answerOf(client);
    expect(answer.status).toBe(400);
    expect((answer.body as { message: string }).message).toMatch(/not valid JSON/);
    expect(seen).toHaveLength(0);
  });

  it("are refused with 400 when they nest deeper than any Docker body (recursive code would run out of stack)", async () => {
    const seen: Recorded[] = [];
    let calls = 0;
    const client = await setUp(seen, () => json(201, {}), {
      name: "policy",
      hooks: createHook,
      reply: () => {
        calls += 1;
        return { action: "allow" };
      },
    });
    const text = `{"Image":"i","Labels":${"[".repeat(1500)}${"]".repeat(1500)}}`;
    client.write(
      `POST /containers/create HTTP/1.1\r\nHost: d\r\nContent-Type: application/json\r\nContent-Length: ${text.length}\r\n\r\n${text}`,
    );
    const answer = await answerOf(client);
    expect(answer.status).toBe(400);
    expect((answer.body as { message: string }).message).toBe(
      "the request body nests JSON deeper than 1000 levels",
    );
    expect(calls).toBe(0);
    expect(seen).toEqual([]);
  });
});

describe("responses post-hooks only observe", () => {
  it("let the head of /containers/{id}/wait through at once (docker run waits for it before start)", async () => {
    let engineSocket: Socket | undefined;
    engine = await startFakeEngine((socket) => {
      engineSocket = socket;
      socket.once("data", () =>
        socket.write(
          "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n",
        ),
      );
    });
    const socketPath = join(tempDir("pst-proxy-"), "proxy.sock");
    proxy = await startProxy({ listen: [`unix://${socketPath}`], docker: `unix://${engine.path}` });
    const fake = await startFakeAdapter({
      name: "waiter",
      hooks: [{ method: "POST", path: "/containers/{id}/wait", stage: "post" }],
      reply: () => ({ action: "pass" }),
    });
    adapters.push(fake);
    proxy.hooks.register(fake.adapter);
    const client = await openClient(socketPath);
    clients.push(client);
    client.write("POST /v1.41/containers/x/wait?condition=next-exit HTTP/1.1\r\nHost: d\r\n\r\n");
    await readUntil(client, contains("chunked\r\n\r\n"));
    engineSocket!.write('1d\r\n{"StatusCode":0,"Error":null}\r\n0\r\n\r\n');
    await readUntil(client, contains('{"StatusCode":0'));
    await expect.poll(() => fake.calls.length).toBe(1);
    expect(fake.calls[0]!.response).toMatchObject({ streamed: true });
  });

  it("stream an ordinary response on when no post-hook needs its body", async () => {
    const seen: Recorded[] = [];
    let call: Record<string, unknown> | undefined;
    const client = await setUp(seen, () => json(200, ["engine"]), {
      name: "auditor",
      hooks: [{ method: "GET", path: "/containers/json", stage: "post", needsBody: false }],
      reply: (m) => {
        call = m;
        return { action: "rewrite", body: ["ignored"] };
      },
    });
    client.write("GET /containers/json HTTP/1.1\r\nHost: d\r\n\r\n");
    expect((await answerOf(client)).body).toEqual(["engine"]);
    await expect.poll(() => call).toBeDefined();
    expect(call!.response).toMatchObject({ status: 200, streamed: false, bodyOmitted: "not-needed" });
  });
});
