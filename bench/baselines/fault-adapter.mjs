#!/usr/bin/env node
// A Powerstrip adapter for the bench's `soak` scenario that fails on purpose. Written on node:http
// rather than the SDK, so that it can fail the ways a real adapter fails: a crash mid-call (the
// connection dropped), a timeout, an HTTP 500, a reply that is not JSON, one against the schema.
//
// Environment:
//   POWERSTRIP_ADAPTER_SOCKET  the unix socket to serve on (set by the bench)
//   ADAPTER_NAME               the name it declares
//   HOOK                       the pre-hook it declares, "METHOD /path" (default "GET /containers/json")
//   FAIL_EVERY                 fail one call in this many (0: never; default 0)
//   TIMEOUT_MS                 the timeout it declares; its "timeout" failures outlast it (default 250)
//
// It declares failurePolicy "fail". Every FAIL_EVERY-th hook call (the 1st, the 11th, … for 10)
// fails, the kinds taken in turn. On SIGTERM it prints what it did, which the bench checks
// against what the clients got: `<name>: received N hook calls, injected M failures`.
import { unlinkSync } from "node:fs";
import { createServer } from "node:http";

const socket = process.env.POWERSTRIP_ADAPTER_SOCKET;
const name = process.env.ADAPTER_NAME ?? "bench-fault";
const [method, path] = (process.env.HOOK ?? "GET /containers/json").split(" ");
const failEvery = Number(process.env.FAIL_EVERY ?? 0);
const timeoutMs = Number(process.env.TIMEOUT_MS ?? 250);

const FAILURES = ["status-500", "crash", "timeout", "not-json", "off-schema"];
let calls = 0;
let injected = 0;

const send = (res, status, body) => {
  const text = typeof body === "string" ? body : JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
  res.end(text);
};

const server = createServer((req, res) => {
  const parts = [];
  req.on("data", (c) => parts.push(c));
  req.on("end", () => {
    if (req.url === "/powerstrip/handshake") {
      const asked = JSON.parse(Buffer.concat(parts).toString() || "{}").name;
      send(res, 200, {
        version: "2",
        name: asked ?? name,
        failurePolicy: "fail",
        timeoutMs,
        hooks: [{ method, path, stage: "pre", needsBody: false }],
      });
      return;
    }
    const call = calls++;
    if (failEvery === 0 || call % failEvery !== 0) {
      send(res, 200, { action: "allow" });
      return;
    }
    const kind = FAILURES[injected++ % FAILURES.length];
    if (kind === "status-500") send(res, 500, { message: `${name}: injected failure` });
    else if (kind === "crash") req.socket.destroy();
    else if (kind === "timeout") setTimeout(() => send(res, 200, { action: "allow" }), timeoutMs * 4).unref();
    else if (kind === "not-json") send(res, 200, "<html>oops</html>");
    else send(res, 200, { action: "explode" });
  });
});

try {
  unlinkSync(socket);
} catch {}
server.listen(socket);
process.on("SIGTERM", () => {
  process.stderr.write(`${name}: received ${calls} hook calls, injected ${injected} failures\n`);
  process.exit(0);
});
