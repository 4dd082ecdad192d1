import { mkdtemp, rm } from "node:fs/promises";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AdapterHost } from "@powerstrip/adapter-host";
import { type RunningAdapter, serve } from "@powerstrip/adapter-sdk";
import { type RunningProxy, startProxy } from "@powerstrip/proxy-core";
import {
  BASE_IMAGE,
  containerFlags,
  type DockerTarget,
  RUN_ID,
  RUN_LABEL,
  removeLabelled,
  startTestProxy,
  succeeded,
  TEST_LABEL,
  uniqueName,
} from "@powerstrip/test-support";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { policy } from "../src/adapter.js";

// The proxy in-process, the policy served on its own socket and loaded by URL, and the real
// docker CLI through the proxy. Host binds are allowed under one temp directory only.
let dir: string;
let allowed: string;
let target: DockerTarget;
let host: AdapterHost;
let running: RunningAdapter;
const quiet = { info() {}, warn() {}, error() {} };

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "pst-example-"));
  allowed = await mkdtemp(join(tmpdir(), "pst-allowed-"));
  let proxy: RunningProxy | undefined;
  target = await startTestProxy(async (options) => (proxy = await startProxy(options)));
  host = new AdapterHost(proxy!.hooks);
  const adapter = policy({ allowedBindPrefixes: [allowed] });
  running = await serve(adapter, { socket: join(dir, "policy.sock"), handleSignals: false, logger: quiet });
  await host.loadUrl({ url: running.address });
});

afterAll(async () => {
  await removeLabelled();
  await host?.close();
  await running?.close();
  await target?.close();
  await rm(dir, { recursive: true, force: true });
  await rm(allowed, { recursive: true, force: true });
});

const ALLOWED_PATHS = () => `allowed host paths are ${allowed} and what is under them`;

/** Runs `docker run --rm <flags> BASE_IMAGE true` through the proxy. */
function run(name: string, flags: string[]) {
  return target.docker(["run", "--rm", ...containerFlags(name), ...flags, BASE_IMAGE, "true"]);
}

/** True when Docker has a container of that name (a denied create must leave none). */
async function exists(name: string): Promise<boolean> {
  const ps = succeeded(await target.docker(["ps", "-aq", "--filter", `name=^/${name}$`]));
  return ps.stdout.toString().trim() !== "";
}

describe("policy through the proxy", () => {
  it("docker run --privileged fails with the policy's message, and nothing is created", async () => {
    const name = uniqueName("privileged");
    const result = await run(name, ["--privileged"]);
    // 125: the docker CLI's exit code for an error from the daemon (`docker create` exits 1).
    expect(result.code).toBe(125);
    expect(result.stderr).toContain(
      "Error response from daemon: policy: privileged containers are not allowed",
    );
    expect(await exists(name)).toBe(false);
  });

  it("docker create --privileged exits 1 with the message", async () => {
    const name = uniqueName("privileged");
    const result = await target.docker([
      "create",
      ...containerFlags(name),
      "--privileged",
      BASE_IMAGE,
      "true",
    ]);
    expect(result.code).toBe(1);
    expect(result.stderr.trim()).toBe(
      "Error response from daemon: policy: privileged containers are not allowed",
    );
  });

  it("docker run -v /etc:/x fails, naming the path and what is allowed", async () => {
    const name = uniqueName("bind");
    const result = await run(name, ["-v", "/etc:/x"]);
    expect(result.code).toBe(125);
    expect(result.stderr).toContain(
      `policy: bind mount of host path /etc is not allowed: ${ALLOWED_PATHS()}`,
    );
    expect(await exists(name)).toBe(false);
  });

  it("docker run --mount type=bind fails too", async () => {
    const result = await run(uniqueName("mount"), ["--mount", "type=bind,src=/etc,dst=/x,readonly"]);
    expect(result.code).toBe(125);
    expect(result.stderr).toContain("policy: bind mount of host path /etc is not allowed");
  });

  it("a path that climbs out of the allowed directory is judged where it lands", async () => {
    const result = await run(uniqueName("climb"), ["-v", `${allowed}/../../etc:/x`]);
    expect(result.code).toBe(125);
    expect(result.stderr).toContain(`host path ${allowed}/../../etc (that is /etc) is not allowed`);
  });

  it("binds under the allowed directory work", async () => {
    succeeded(
      await run(uniqueName("allowed"), [
        "-v",
        `${allowed}:/data`,
        "--mount",
        `type=bind,src=${allowed},dst=/d`,
      ]),
    );
  });

  it("named volumes work", async () => {
    const volume = uniqueName("vol");
    succeeded(await target.docker(["volume", "create", "--label", RUN_LABEL, volume]));
    succeeded(
      await run(uniqueName("named"), ["-v", `${volume}:/x`, "--mount", `type=volume,src=${volume},dst=/y`]),
    );
  });

  it("a local volume that binds a host path is refused at docker volume create", async () => {
    const result = await target.docker([
      "volume",
      "create",
      "--label",
      RUN_LABEL,
      "--opt",
      "type=none",
      "--opt",
      "o=bind",
      "--opt",
      "device=/etc",
      uniqueName("sneaky"),
    ]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain("policy: bind mount of host path /etc is not allowed");
  });

  // Docker's Go decoder ignores what follows the JSON document, where JSON.parse refuses it: the
  // proxy refuses such a body before any hook, so it can never slip past one.
  it("a raw create with bytes after the JSON document is refused by the proxy", async () => {
    const name = uniqueName("raw");
    const body = `{"Image":"${BASE_IMAGE}","Labels":{"${TEST_LABEL}":"${RUN_ID}"},"HostConfig":{"Privileged":true}} x`;
    const answer = await post(target.socketPath, `/v1.41/containers/create?name=${name}`, body);
    expect(answer.status).toBe(400);
    expect(JSON.parse(answer.body).message).toMatch(/not valid JSON/);
    expect(await exists(name)).toBe(false);
  });

  // Docker's Go decoder reads member names case-insensitively; hooks get the body as JSON.parse
  // reads it. That would slip past a naive check.
  it.each([
    [
      "lower-case member names",
      `{"Image":"${BASE_IMAGE}","Labels":{"${TEST_LABEL}":"${RUN_ID}"},"hostconfig":{"privileged":true}}`,
    ],
  ])("a raw create with %s is refused", async (_what, body) => {
    const name = uniqueName("raw");
    const answer = await post(target.socketPath, `/v1.41/containers/create?name=${name}`, body);
    expect(answer.status).toBe(403);
    expect(JSON.parse(answer.body).message).toMatch(/^policy: /);
    expect(await exists(name)).toBe(false);
  });
});

/** One POST with a JSON content type, on its own connection. */
function post(socketPath: string, path: string, body: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        socketPath,
        path,
        method: "POST",
        headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body) },
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (chunk: Buffer) => chunks.push(chunk));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
        res.on("error", reject);
      },
    );
    req.setTimeout(30_000, () => req.destroy(new Error(`POST ${path}: no answer within 30 s`)));
    req.on("error", reject);
    req.end(body);
  });
}
