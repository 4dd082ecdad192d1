import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it, onTestFinished } from "vitest";
import { createCall, offer, post } from "../test-fixtures/http-client.js";

/** A temp dir removed when the current test finishes. */
function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

// test-fixtures/label-injector.mjs is the DESIGN §4 form in plain JavaScript. It runs here as its
// own Node process, as in an adapter image: the SDK resolved from sources (the "source" export
// condition, TypeScript loaded by tsx), the socket from POWERSTRIP_ADAPTER_SOCKET.
const packageDir = join(dirname(fileURLToPath(import.meta.url)), "..");
const fixture = join(packageDir, "test-fixtures", "label-injector.mjs");

let child: ChildProcess | undefined;
afterEach(() => {
  child?.kill("SIGKILL");
  child = undefined;
});

async function startFixture(socket: string): Promise<{ address: string; stderr: () => string }> {
  child = spawn(process.execPath, ["--conditions=source", "--import", "tsx", fixture], {
    cwd: packageDir,
    env: { ...process.env, POWERSTRIP_ADAPTER_SOCKET: socket },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stderr = "";
  child.stderr!.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const address = await new Promise<string>((resolve, reject) => {
    let stdout = "";
    child!.stdout!.on("data", (chunk: Buffer) => {
      stdout += chunk.toString();
      const ready = /^ready (\S+)$/m.exec(stdout);
      if (ready) resolve(ready[1]!);
    });
    child!.once("exit", (code) =>
      reject(new Error(`the fixture exited (${code}) before it was ready: ${stderr}`)),
    );
  });
  return { address, stderr: () => stderr };
}

describe("a plain JavaScript adapter in the DESIGN §4 form", () => {
  it("serves the handshake and its hooks on POWERSTRIP_ADAPTER_SOCKET, and stops gracefully on SIGTERM", async () => {
    const socket = join(tempDir("pst-fixture-"), "label-injector.sock");
    const { address, stderr } = await startFixture(socket);
    expect(address).toBe(`unix://${socket}`);
    expect(statSync(socket).mode & 0o777).toBe(0o660);

    const handshake = await post(address, "/powerstrip/handshake", offer);
    expect(handshake).toMatchObject({
      status: 200,
      body: {
        version: "2",
        name: "label-injector",
        priority: 100,
        failurePolicy: "fail",
        timeoutMs: 2000,
        hooks: [
          { method: "POST", path: "/containers/create", stage: "pre", needsBody: true },
          { method: "POST", path: "/containers/create", stage: "post", needsBody: true },
          { method: "POST", path: "/containers/{id}/start", stage: "post", needsBody: true },
        ],
      },
    });

    const rewrite = await post(
      address,
      "/powerstrip/hook",
      createCall("label-injector", { Image: "nginx", Labels: { a: "b" } }),
    );
    expect(rewrite).toMatchObject({
      status: 200,
      body: { action: "rewrite", body: { Image: "nginx", Labels: { a: "b", seen: "yes" } } },
    });
    const deny = await post(address, "/powerstrip/hook", createCall("label-injector", { Image: "bad" }));
    expect(deny).toMatchObject({
      status: 200,
      body: { action: "deny", status: 403, message: "no bad images" },
    });
    const noBody = await post(address, "/powerstrip/hook", createCall("label-injector", undefined));
    expect(noBody).toMatchObject({
      status: 500,
      body: { message: expect.stringMatching(/^label-injector: Cannot read properties of undefined/) },
    });
    expect(stderr()).toMatch(
      /label-injector error: pre hook POST \/containers\/create threw: Cannot read properties of undefined/,
    );
    const created = { status: 201, headers: {}, body: { Id: "abc", Warnings: [] }, streamed: false };
    const postReply = await post(
      address,
      "/powerstrip/hook",
      createCall("label-injector", {}, "post", created),
    );
    expect(postReply).toMatchObject({
      status: 200,
      body: { action: "rewrite", body: { Id: "abc", Warnings: ["labelled web"] } },
    });

    // SIGTERM while a (slow) call is in flight: it is answered, then the process exits 0.
    const start = createCall("label-injector", undefined, "post", {
      status: 204,
      headers: {},
      streamed: false,
    });
    const inFlight = post(address, "/powerstrip/hook", {
      ...start,
      hook: "POST /containers/{id}/start",
      request: { ...start.request, path: "/containers/abc/start", params: { id: "abc" } },
    });
    await new Promise((resolve) => setTimeout(resolve, 100));
    const exited = new Promise<number | null>((resolve) => child!.once("exit", resolve));
    child!.kill("SIGTERM");
    expect(await inFlight).toMatchObject({
      status: 200,
      body: { action: "rewrite", headers: { set: { "x-started": "abc" } } },
    });
    expect(await exited).toBe(0);
    expect(() => statSync(socket)).toThrow();
    expect(stderr()).toMatch(/label-injector info: SIGTERM: finishing in-flight calls, then exiting/);
  }, 20_000);
});
