import type { Socket } from "node:net";
import { join } from "node:path";
import { CREDENTIAL_HEADERS, EDITABLE_REQUEST_HEADERS, PROXY_MANAGED_HEADERS } from "@powerstrip/protocol";
import fc from "fast-check";
import { afterEach, describe, expect, it } from "vitest";
import { parseRequestHead, parseResponseHead } from "../http/head.js";
import { type RunningProxy, startProxy } from "../proxy.js";
import { type FakeAdapter, type FakeReply, startFakeAdapter } from "../testing/fake-adapter.js";
import { type FakeEngine, openClient, readUntil, startFakeEngine } from "../testing/fake-engine.js";
import { tempDir } from "../testing/temp-dir.js";
import { AdapterFailure } from "./adapter-failure.js";
import { type HookedRequest, type HookedResponse, requestTarget } from "./hooked-request.js";
import { hookedUpstreamHead, rewrittenResponse } from "./hooked-steps.js";
import { applyPostReply, applyPreReply, checkPostReply, checkPreReply } from "./replies.js";

// What adapters may do to a request (issue #6): point it nowhere but the engine, edit only the
// allowlisted headers, see and edit credentials only with the grant; and every hook runs however
// the client spells the path.

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

/** Heads the fake engine received, each answered 201 `{}`. */
async function setUp(
  heads: string[],
  adapter: Omit<Parameters<typeof startFakeAdapter>[0], "hooks"> & {
    hooks?: Parameters<typeof startFakeAdapter>[0]["hooks"];
  },
): Promise<Socket> {
  engine = await startFakeEngine((socket) => {
    let buffered = Buffer.alloc(0);
    socket.on("data", (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      for (;;) {
        const end = buffered.indexOf("\r\n\r\n");
        if (end === -1) return;
        const head = buffered.subarray(0, end + 4).toString("latin1");
        const length = Number(/content-length: (\d+)/i.exec(head)?.[1] ?? 0);
        if (buffered.length < end + 4 + length) return;
        buffered = buffered.subarray(end + 4 + length);
        heads.push(head);
        socket.write("HTTP/1.1 201 Created\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}");
      }
    });
  });
  const socketPath = join(tempDir("pst-proxy-"), "proxy.sock");
  proxy = await startProxy({ listen: [`unix://${socketPath}`], docker: `unix://${engine.path}` });
  const fake = await startFakeAdapter({
    hooks: [{ method: "POST", path: "/containers/create", stage: "pre" }],
    ...adapter,
  });
  adapters.push(fake);
  proxy.hooks.register(fake.adapter);
  const client = await openClient(socketPath);
  clients.push(client);
  return client;
}

function create(path = "/v1.41/containers/create", extraHeaders = ""): string {
  return `POST ${path} HTTP/1.1\r\nHost: d\r\n${extraHeaders}Content-Type: application/json\r\nContent-Length: 13\r\n\r\n{"Image":"i"}`;
}

async function answerOf(client: Socket): Promise<{ status: number; message: string | undefined }> {
  const raw = (
    await readUntil(client, (b) => {
      const text = b.toString("latin1");
      const end = text.indexOf("\r\n\r\n");
      const length = Number(/content-length: (\d+)/i.exec(text.slice(0, end))?.[1] ?? -1);
      return end !== -1 && length >= 0 && b.length >= end + 4 + length;
    })
  ).toString();
  const body = raw.slice(raw.indexOf("\r\n\r\n") + 4);
  return { status: Number(raw.slice(9, 12)), message: (JSON.parse(body) as { message?: string }).message };
}

describe("header edits", () => {
  it("of allowlisted headers reach the engine", async () => {
    const heads: string[] = [];
    const client = await setUp(heads, {
      name: "tagger",
      reply: () => ({
        action: "rewrite",
        headers: {
          set: { "user-agent": "tagged/1", "x-meta-team": "web", "content-type": "application/json" },
          remove: ["x-meta-old"],
        },
      }),
    });
    client.write(create(undefined, "User-Agent: Docker-Client/28\r\nX-Meta-Old: 1\r\n"));
    expect((await answerOf(client)).status).toBe(201);
    expect(heads[0]).toContain("user-agent: tagged/1\r\n");
    expect(heads[0]).toContain("x-meta-team: web\r\n");
    expect(heads[0]).not.toContain("Docker-Client");
    expect(heads[0]).not.toMatch(/x-meta-old/i);
  });

  it.each([
    ["host", { set: { host: "evil.example" } }, /headers\.set: key "host"/],
    ["x-forwarded-for", { set: { "x-forwarded-for": "10.0.0.1" } }, /headers\.set: key "x-forwarded-for"/],
    ["forwarded (removal)", { remove: ["forwarded"] }, /headers\.remove\[0\]: must be a request header/],
    [
      "authorization, without the credentials grant",
      { set: { authorization: "Bearer stolen" } },
      /headers\.set: authorization carries the client's credentials; only an adapter that declares credentials and is loaded with --allow-credentials may edit it/,
    ],
    [
      "x-registry-auth removal, without the grant",
      { remove: ["x-registry-auth"] },
      /headers\.remove\[0\]: x-registry-auth carries the client's credentials/,
    ],
  ])("of %s fail closed, naming the header, and the engine never sees the call", async (_, edits, detail) => {
    const heads: string[] = [];
    const client = await setUp(heads, {
      name: "meddler",
      reply: () => ({ action: "rewrite", headers: edits }),
    });
    client.write(create());
    const answer = await answerOf(client);
    expect(answer.status).toBe(502);
    expect(answer.message).toMatch(/^powerstrip: adapter "meddler" failed \(invalid pre-hook reply: /);
    expect(answer.message).toMatch(detail);
    expect(heads).toHaveLength(0);
  });

  it("of a forbidden header are skipped under the ignore policy: the request goes on untouched", async () => {
    const heads: string[] = [];
    const client = await setUp(heads, {
      name: "meddler",
      failurePolicy: "ignore",
      reply: () => ({ action: "rewrite", headers: { set: { host: "evil.example" } } }),
    });
    client.write(create());
    expect((await answerOf(client)).status).toBe(201);
    expect(heads[0]).toContain("Host: d\r\n");
    expect(heads[0]).not.toContain("evil");
  });
});

describe("credentials", () => {
  const sent = "X-Registry-Auth: c2VjcmV0\r\nX-Registry-Config: e30=\r\nAuthorization: Bearer t\r\n";

  it.each([
    [false, {}],
    [true, { "x-registry-auth": "c2VjcmV0", "x-registry-config": "e30=", authorization: "Bearer t" }],
  ])("with the grant %s: the hook call carries %o", async (granted, expected) => {
    const heads: string[] = [];
    let seen: Record<string, string> | undefined;
    const client = await setUp(heads, {
      name: "registry-mirror",
      receivesCredentials: granted,
      reply: (m) => {
        seen = (m.request as { headers: Record<string, string> }).headers;
        return { action: "allow" };
      },
    });
    client.write(create(undefined, sent));
    expect((await answerOf(client)).status).toBe(201);
    for (const name of CREDENTIAL_HEADERS)
      expect(seen![name]).toBe((expected as Record<string, string>)[name]);
    expect(heads[0]).toContain("X-Registry-Auth: c2VjcmV0\r\n"); // the engine gets them either way
  });

  it("an adapter with the grant may replace them", async () => {
    const heads: string[] = [];
    const client = await setUp(heads, {
      name: "registry-mirror",
      receivesCredentials: true,
      reply: () => ({
        action: "rewrite",
        headers: { set: { "x-registry-auth": "bWlycm9y" }, remove: ["authorization"] },
      }),
    });
    client.write(create(undefined, sent));
    expect((await answerOf(client)).status).toBe(201);
    expect(heads[0]).toContain("x-registry-auth: bWlycm9y\r\n");
    expect(heads[0]).not.toContain("c2VjcmV0");
    expect(heads[0]).not.toContain("Bearer");
  });
});

describe("hooks match the path the engine routes", () => {
  it.each([
    "/containers/%63reate",
    "/v1.41/containers/%63%72%65%61%74%65",
    "/%76%31.41/containers%2Fcreate",
    "/v1.41/containers/create/",
  ])("POST %s runs the create hook", async (path) => {
    const heads: string[] = [];
    const client = await setUp(heads, {
      name: "policy",
      reply: () => ({ action: "deny", status: 403, message: "no creating here" }),
    });
    client.write(create(path));
    expect(await answerOf(client)).toEqual({ status: 403, message: "no creating here" });
    expect(heads).toHaveLength(0);
  });
});

describe("legacy (2015) adapters", () => {
  it.each([
    ["a request line split by U+010D U+010A", "/containers/create\u010d\u010aX-Smuggled: 1"],
    ["another host", "//evil.example/containers/create"],
    ["a dot segment", "/containers/../images/create"],
    ["a space", "/containers/create HTTP/1.0"],
  ])("cannot point the request elsewhere: %s fails closed", async (_, request) => {
    const heads: string[] = [];
    const client = await setUp(heads, {
      name: "old",
      protocolVersion: "1",
      reply: (m) => ({
        PowerstripProtocolVersion: 1,
        ModifiedClientRequest: { ...(m.ClientRequest as object), Request: request },
      }),
    });
    client.write(create());
    const answer = await answerOf(client);
    expect(answer.status).toBe(502);
    expect(answer.message).toMatch(
      /adapter "old" failed \(ModifiedClientRequest\.Request must be a path on the Docker engine/,
    );
    expect(heads).toHaveLength(0);
  });
});

describe("replies nested too deep", () => {
  it.each<[string, FakeReply]>([
    ["a v2 body", { raw: `{"action":"rewrite","body":${"[".repeat(5000)}${"]".repeat(5000)}}` }],
  ])("fail closed (%s), rather than overflow the stack re-serializing it", async (_, reply) => {
    const heads: string[] = [];
    const client = await setUp(heads, { name: "deep", reply: () => reply });
    client.write(create());
    const answer = await answerOf(client);
    expect(answer.status).toBe(502);
    expect(answer.message).toMatch(
      /adapter "deep" failed \(invalid pre-hook reply: it nests JSON deeper than 1000 levels/,
    );
  });
});

describe("what the schema accepts never breaks the framing", () => {
  const latin1 = fc.oneof(
    fc.constant("\t"),
    fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)),
    fc.integer({ min: 0x80, max: 0xff }).map((c) => String.fromCharCode(c)),
  );
  // Mostly values the schema accepts, some it must refuse: characters that latin1 would send as
  // CR, LF or a space (U+010D, U+010A, U+0120), controls, anything.
  const tricky = fc.constantFrom("\u010d\u010a", "\u0120", "\r\n", "\n", "\u0000", "\u007f", "\ud800", "é€");
  const value = fc.oneof(
    { weight: 4, arbitrary: fc.string({ unit: latin1, maxLength: 12 }) },
    fc.tuple(fc.string({ unit: latin1, maxLength: 4 }), tricky).map(([a, b]) => a + b),
    fc.string({ unit: "binary", maxLength: 6 }),
  );
  const name = fc.oneof(
    fc.constantFrom(...EDITABLE_REQUEST_HEADERS.names, ...CREDENTIAL_HEADERS),
    fc.stringMatching(/^[a-z0-9!#$%&'*+.^_`|~-]{1,8}$/).map((t) => `x-meta-${t}`),
  );
  const segment = fc
    .stringMatching(/^(?:[A-Za-z0-9._~!$&'()*+,;=:@-]|%[0-9A-Fa-f]{2}){1,6}$/)
    .filter((s) => !/^(?:\.|%2[eE]){1,2}$/.test(s));
  const path = fc.oneof(
    { weight: 4, arbitrary: fc.array(segment, { maxLength: 4 }).map((list) => `/${list.join("/")}`) },
    fc.tuple(fc.array(segment, { maxLength: 2 }), tricky).map(([list, t]) => `/${list.join("/")}${t}`),
    fc.string({ unit: "binary", maxLength: 8 }).map((t) => `/${t}`),
  );
  const anyText = fc.string({ unit: "binary", maxLength: 8 });

  it("a pre-hook rewrite of path, query and headers gives a head that parses back to what it says", () => {
    let accepted = 0;
    const base = parseRequestHead(Buffer.from(`${create().split("\r\n\r\n")[0]!}\r\n\r\n`, "latin1"));
    fc.assert(
      fc.property(
        fc.dictionary(name, value, { minKeys: 1, maxKeys: 4 }),
        path,
        fc.dictionary(anyText, anyText, { maxKeys: 3 }),
        (set, newPath, query) => {
          let reply: ReturnType<typeof checkPreReply>;
          try {
            reply = checkPreReply(
              { action: "rewrite", headers: { set }, path: newPath, query: { set: query, remove: ["x"] } },
              { receivesCredentials: true },
            );
          } catch (error) {
            expect(error).toBeInstanceOf(AdapterFailure);
            return; // refused: nothing is sent
          }
          accepted++;
          const request: HookedRequest = {
            method: "POST",
            path: "/containers/create",
            apiVersion: "1.41",
            query: [["x", "1"]],
            headers: [...base.headers],
            body: { Image: "i" },
            bodyOmitted: undefined,
            headChanged: false,
            bodyChanged: false,
          };
          applyPreReply(reply, request);
          const head = hookedUpstreamHead(base, request, 13);
          const parsed = parseRequestHead(head);
          expect(parsed.target).toBe(requestTarget(request));
          expect(parsed.target.startsWith(`/v1.41${newPath}`)).toBe(true);
          expect(parsed.target).toMatch(/^[\x21-\x7e]+$/);
          for (const [header, text] of Object.entries(set)) {
            const values = parsed.headers.filter(
              (_, i) => i % 2 === 1 && parsed.headers[i - 1]!.toLowerCase() === header,
            );
            expect(values).toEqual([text.trim().replace(/^[\t ]+|[\t ]+$/g, "")]);
          }
          expect(parsed.contentLengths).toEqual(["13"]);
          expect(parsed.transferEncoding).toBeNull();
        },
      ),
      { numRuns: 400 },
    );
    expect(accepted).toBeGreaterThan(50);
  });

  it("a post-hook rewrite of status and headers gives a response head that parses back", () => {
    const responseName = fc
      .stringMatching(/^[a-z0-9!#$%&'*+.^_`|~-]{1,10}$/)
      .filter((n) => !PROXY_MANAGED_HEADERS.includes(n));
    fc.assert(
      fc.property(
        fc.integer({ min: 100, max: 599 }),
        fc.dictionary(responseName, value, { maxKeys: 4 }),
        (status, set) => {
          let reply: ReturnType<typeof checkPostReply>;
          try {
            reply = checkPostReply({
              action: "rewrite",
              status,
              headers: { set: { ...set, "x-k": "v" } },
              body: { ok: true },
            });
          } catch (error) {
            expect(error).toBeInstanceOf(AdapterFailure);
            return;
          }
          const response: HookedResponse = {
            status: 201,
            headers: ["Content-Type", "application/json", "Api-Version", "1.41"],
            body: {},
            bodyOmitted: undefined,
            streamed: false,
            observed: false,
            changed: false,
          };
          applyPostReply(reply, response);
          const bytes = rewrittenResponse(response, "OK", false);
          const end = bytes.indexOf("\r\n\r\n") + 4;
          const parsed = parseResponseHead(bytes.subarray(0, end));
          expect(parsed.status).toBe(status);
          const names = parsed.headers.filter((_, i) => i % 2 === 0).map((n) => n.toLowerCase());
          const expected = new Set([
            "api-version",
            "content-length",
            "content-type",
            "x-k",
            ...Object.keys(set),
          ]);
          expect(names.sort()).toEqual([...expected].sort());
          expect(parsed.contentLengths).toEqual([String(bytes.length - end)]);
          expect(JSON.parse(bytes.subarray(end).toString())).toEqual({ ok: true });
        },
      ),
      { numRuns: 300 },
    );
  });
});
