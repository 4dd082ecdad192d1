import { readdirSync, readFileSync } from "node:fs";
import { createServer, type Server, type Socket } from "node:net";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { HttpAdapterTransport, type RunningProxy, startProxy } from "@powerstrip/proxy-core";
import {
  BASE_IMAGE,
  containerFlags,
  type DockerTarget,
  isDirectMode,
  openTarget,
  removeLabelled,
  uniqueName,
} from "@powerstrip/test-support";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { tempDir } from "../../src/testing/temp-dir.js";

/**
 * The corpus of malformed adapter replies (test/corpus/replies, see its README): each file is the
 * raw bytes an adapter answers a hook call with — broken framing, broken JSON, replies against the
 * schema, rewrites that try to point the request elsewhere. For each one, through the real docker
 * CLI and engine: the client promptly gets Docker's error shape naming the adapter (its policy is
 * to fail closed), and the proxy serves the next call through the same adapter. Timeouts, crashes,
 * slow and huge replies are fault tests (apps/proxy/test/adapter-faults.test.ts), not corpus.
 */
const CORPUS = join(dirname(fileURLToPath(import.meta.url)), "..", "corpus", "replies");

/** What each file must make the adapter's failure say (after `adapter "corpus" failed (`). */
const expected: Record<string, RegExp> = {
  // Framing: node's HTTP parser refuses the reply, or the adapter hangs up mid-reply.
  "head-truncated": /cannot reach it: ECONNRESET/,
  "head-without-blank-line": /cannot reach it: ECONNRESET/,
  "status-line-garbage": /cannot reach it: HPE_INVALID_STATUS/,
  "not-http": /cannot reach it: HPE_INVALID_CONSTANT/,
  "body-truncated": /the connection was cut mid-reply/,
  "body-longer-than-length": /cannot reach it: HPE_INVALID_CONSTANT/,
  "chunk-size-not-hex": /cannot reach it: HPE_INVALID_CHUNK_SIZE/,
  "chunks-unterminated": /the connection was cut mid-reply/,
  "chunk-size-lies": /cannot reach it: HPE_STRICT/,
  "length-and-chunked": /cannot reach it: HPE_INVALID_TRANSFER_ENCODING/,
  "two-content-lengths": /cannot reach it: HPE_UNEXPECTED_CONTENT_LENGTH/,
  "header-without-colon": /cannot reach it: HPE_INVALID_HEADER_TOKEN/,
  "header-space-before-colon": /cannot reach it: HPE_INVALID_HEADER_TOKEN/,
  "header-nul": /cannot reach it: HPE_INVALID_HEADER_TOKEN/,
  "header-line-20kib": /cannot reach it: HPE_HEADER_OVERFLOW/,
  "response-smuggled-after-body": /invalid pre-hook reply: action: must be one of "allow", "deny", "rewrite"/,
  "gzip-encoded": /reply is not JSON: it is not UTF-8/,
  "status-302-elsewhere": /answered HTTP 302/,
  "status-204": /answered HTTP 204/,
  // Bytes that are not a JSON document.
  "not-json": /reply is not JSON: "<html>/,
  "empty-body": /reply is not JSON: ""/,
  "nul-after-json": /reply is not JSON/,
  "nul-inside-string": /reply is not JSON/,
  "invalid-utf8": /reply is not JSON: it is not UTF-8/,
  "overlong-utf8": /reply is not JSON: it is not UTF-8/,
  "utf8-bom": /reply is not JSON/,
  // JSON against the schema.
  "json-null": /invalid pre-hook reply: \(root\): must be an object/,
  "json-array": /invalid pre-hook reply: \(root\): must be an object/,
  "json-string": /invalid pre-hook reply: \(root\): must be an object/,
  "unknown-action": /invalid pre-hook reply: action: must be one of "allow", "deny", "rewrite"/,
  "deny-status-200": /invalid pre-hook reply: status: must be at least 400/,
  // JSON.parse keeps the last of repeated keys: here a status no deny may have.
  "duplicate-keys": /invalid pre-hook reply: status: must be at least 400/,
  "number-overflows-to-infinity": /invalid pre-hook reply: status: must be an integer/,
  "number-huge-integer": /invalid pre-hook reply: status: must be at most 599/,
  "deep-nesting": /invalid pre-hook reply: it nests JSON deeper than 1000 levels/,
  "body-and-patch": /invalid pre-hook reply: \(root\): body and patch are mutually exclusive/,
  "unknown-field": /invalid pre-hook reply: upstream: is not a known field/,
  "proto-key": /invalid pre-hook reply: __proto__: is not a known field/,
  "warnings-not-a-list": /invalid pre-hook reply: warnings: must be an array/,
  "rewrite-of-nothing":
    /invalid pre-hook reply: \(root\): must have at least one of body, patch, query, headers, path/,
  // Rewrites that would point the request elsewhere, or smuggle one.
  "patch-dotdot":
    /JSON Patch failed: JSON Patch operation 0 \(add \/\.\.\/x\) failed: nothing at "\/\.\.\/x"/,
  "patch-proto": /JSON Patch operation 0 \(replace \/__proto__\) failed: nothing at "\/__proto__"/,
  "patch-pointer-without-slash": /invalid pre-hook reply: patch\[0\]\.path: must be an RFC 6901 JSON Pointer/,
  "path-dotdot": /invalid pre-hook reply: path: must be a path starting with '\/'/,
  "path-escaped-dotdot": /invalid pre-hook reply: path: must be a path starting with '\/'/,
  "path-absolute-url": /invalid pre-hook reply: path: must be a path starting with '\/'/,
  "path-other-host": /invalid pre-hook reply: path: must be a path starting with '\/'/,
  "path-crlf-as-latin1": /invalid pre-hook reply: path: must be a path starting with '\/'/,
  "header-value-crlf": /invalid pre-hook reply: headers\.set\["x-meta-a"\]: must be a header value/,
  "header-value-crlf-as-latin1": /invalid pre-hook reply: headers\.set\["x-meta-a"\]: must be a header value/,
  "header-name-crlf":
    /invalid pre-hook reply: headers\.set: key "x-meta-a\\r\\nx-injected" must be a request header/,
  "header-host":
    /invalid pre-hook reply: headers\.set: key "host" must be a request header adapters may edit/,
  "header-forwarded":
    /invalid pre-hook reply: headers\.remove\[1\]: must be a request header adapters may edit/,
  "header-credentials-without-grant": /headers\.set: x-registry-auth carries the client's credentials/,
  // Post-hook replies (files named post-*), to the post-hook of the same call.
  "post-status-99": /invalid post-hook reply: status: must be at least 100/,
  "post-content-length": /invalid post-hook reply: headers\.set: key "content-length" must be/,
  "post-transfer-encoding": /invalid post-hook reply: headers\.set: key "transfer-encoding" must be/,
  "post-response-splitting": /invalid post-hook reply: headers\.set\["x-a"\]: must be a header value/,
  "post-deny": /invalid post-hook reply: action: must be one of "pass", "rewrite"/,
  "post-patch-nothing-there": /JSON Patch operation 0 \(remove \/Nope\) failed: nothing at "\/Nope"/,
};

const files = readdirSync(CORPUS)
  .filter((file) => file.endsWith(".http"))
  .map((file) => file.slice(0, -".http".length))
  .sort();

/**
 * An adapter with no HTTP library: it answers its first hook call with `reply`, byte for byte, and
 * hangs up; every later call (on any connection) gets a well-formed allow (pass).
 */
async function rawAdapter(reply: Buffer, stage: "pre" | "post") {
  const socketPath = join(tempDir("pst-corpus-"), "adapter.sock");
  let calls = 0;
  let firstClosed: () => void = () => {};
  const closed = new Promise<void>((resolve) => {
    firstClosed = resolve;
  });
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    let buffered = Buffer.alloc(0);
    let first = false;
    socket.on("error", () => {});
    socket.on("close", () => {
      sockets.delete(socket);
      if (first) firstClosed();
    });
    socket.on("data", (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      for (;;) {
        const end = buffered.indexOf("\r\n\r\n");
        if (end === -1) return;
        const length = Number(/content-length: *(\d+)/i.exec(buffered.subarray(0, end).toString())?.[1] ?? 0);
        if (buffered.length < end + 4 + length) return;
        buffered = buffered.subarray(end + 4 + length);
        calls++;
        if (calls === 1) {
          first = true;
          socket.end(reply);
          return;
        }
        const body = stage === "pre" ? '{"action":"allow"}' : '{"action":"pass"}';
        socket.write(
          `HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`,
        );
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(socketPath, resolve));
  return {
    socketPath,
    calls: () => calls,
    /** The connection that carried the bad reply is gone (the proxy dropped it, or it hung up). */
    firstConnectionClosed: (timeoutMs: number) =>
      Promise.race([
        closed,
        new Promise<never>((_, reject) =>
          setTimeout(() => reject(new Error("the first connection is still open")), timeoutMs).unref(),
        ),
      ]),
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

let proxy: RunningProxy | undefined;
let target: DockerTarget;

beforeAll(async () => {
  target = await openTarget(async (options) => {
    proxy = await startProxy(options);
    return proxy;
  });
});
afterAll(async () => {
  await removeLabelled();
  await target?.close();
});

describe.skipIf(isDirectMode())("a corpus of malformed adapter replies", () => {
  it("has an expectation for every file, and a file for every expectation", () => {
    expect(files).toEqual(Object.keys(expected).sort());
  });

  it.each(files)(
    "%s: a prompt Docker error naming the adapter, then the next call is served",
    async (file) => {
      const stage = file.startsWith("post-") ? "post" : "pre";
      const adapter = await rawAdapter(readFileSync(join(CORPUS, `${file}.http`)), stage);
      const transport = new HttpAdapterTransport({
        socketPath: adapter.socketPath,
        path: "/powerstrip/hook",
      });
      proxy!.hooks.register({
        name: "corpus",
        priority: 1000,
        failurePolicy: "fail",
        // Longer than any answer here may take: a corpus reply must be refused for what it is, not timed out.
        timeoutMs: 4000,
        protocolVersion: "2",
        hooks: [{ method: "POST", path: "/containers/create", stage, needsBody: true }],
        transport,
      });
      try {
        const name = uniqueName("corpus");
        const started = Date.now();
        const failed = await target.docker(["create", ...containerFlags(name), BASE_IMAGE, "true"], {
          timeoutMs: 20_000,
        });
        expect(Date.now() - started).toBeLessThan(3_000);
        expect(failed.code).toBe(1);
        expect(failed.stderr).toContain('Error response from daemon: powerstrip: adapter "corpus" failed (');
        expect(failed.stderr).toMatch(expected[file]!);
        expect(failed.stderr).toContain("its failure policy is to fail closed");
        expect(adapter.calls()).toBe(1);
        // A pre-hook failure stops the call before Docker; a post-hook one comes after it created.
        expect((await target.docker(["container", "inspect", name])).code).toBe(stage === "pre" ? 1 : 0);

        await adapter.firstConnectionClosed(5_000);
        const next = uniqueName("corpus-next");
        const served = await target.docker(["create", ...containerFlags(next), BASE_IMAGE, "true"], {
          timeoutMs: 20_000,
        });
        expect(served.stderr).toBe("");
        expect(served.code).toBe(0);
        expect(adapter.calls()).toBe(2);
      } finally {
        await proxy!.hooks.unregister("corpus");
        transport.close();
        await adapter.close();
      }
    },
  );
});
