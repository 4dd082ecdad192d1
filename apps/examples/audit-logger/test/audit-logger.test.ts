import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AdapterHost } from "@powerstrip/adapter-host";
import { type RunningAdapter, serve } from "@powerstrip/adapter-sdk";
import { type RunningProxy, startProxy } from "@powerstrip/proxy-core";
import {
  BASE_IMAGE,
  containerFlags,
  type DockerTarget,
  RUN_LABEL,
  removeLabelled,
  startTestProxy,
  succeeded,
  uniqueName,
} from "@powerstrip/test-support";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type AuditRecord, auditLogger, auditSink } from "../src/adapter.js";

// The proxy in-process, the audit logger served on its own socket (lines to a file, as with
// AUDIT_LOG) and loaded by URL, and the real docker CLI through the proxy.
let dir: string;
let logFile: string;
let sink: ReturnType<typeof auditSink>;
let target: DockerTarget;
let host: AdapterHost;
let running: RunningAdapter;
const quiet = { info() {}, warn() {}, error() {} };

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "pst-example-"));
  logFile = join(dir, "audit.log");
  let proxy: RunningProxy | undefined;
  target = await startTestProxy(async (options) => (proxy = await startProxy(options)));
  host = new AdapterHost(proxy!.hooks);
  sink = auditSink({ file: logFile, stdout: null });
  running = await serve(auditLogger({ sink }), {
    socket: join(dir, "audit-logger.sock"),
    handleSignals: false,
    logger: quiet,
  });
  await host.loadUrl({ url: running.address });
});

afterAll(async () => {
  await removeLabelled();
  await host?.close();
  await running?.close();
  sink?.close();
  await target?.close();
  await rm(dir, { recursive: true, force: true });
});

async function records(): Promise<AuditRecord[]> {
  const text = await readFile(logFile, "utf8").catch(() => "");
  return text
    .split("\n")
    .filter(Boolean)
    .map((line) => JSON.parse(line) as AuditRecord);
}

/** The records of calls on one container (by id) or creating it (by name). */
function about(all: AuditRecord[], id: string, name: string): AuditRecord[] {
  return all.filter((r) => r.params.id === id || r.query.name === name);
}

describe("audit-logger through the proxy", () => {
  it("logs docker run: a pre and a post line per call, sharing a request id, with Docker's status", async () => {
    const name = uniqueName("audited");
    succeeded(await target.docker(["run", ...containerFlags(name), BASE_IMAGE, "true"]));
    const id = succeeded(await target.docker(["inspect", "--format", "{{.Id}}", name]))
      .stdout.toString()
      .trim();

    const lines = about(await records(), id, name);
    const calls = new Map<string, AuditRecord[]>();
    for (const line of lines) calls.set(line.requestId, [...(calls.get(line.requestId) ?? []), line]);
    // Every call has its pre line, then its post line, and nothing else.
    for (const [, [pre, post, ...rest]] of calls) {
      expect(rest).toEqual([]);
      expect(pre).toMatchObject({ stage: "pre" });
      expect(post).toMatchObject({ stage: "post", method: pre!.method, path: pre!.path, hook: pre!.hook });
      expect(post!.status).toBeTypeOf("number");
    }
    const summary = [...calls.values()].map(([pre, post]) => `${pre!.method} ${pre!.path} ${post!.status}`);
    expect(summary).toEqual([
      "POST /containers/create 201",
      `POST /containers/${id}/attach 101`,
      `POST /containers/${id}/start 204`,
    ]);
    const create = lines.find((l) => l.path === "/containers/create" && l.stage === "pre")!;
    expect(create).toMatchObject({ apiVersion: expect.any(String), query: { name } });
    expect(create.userAgent).toMatch(/^Docker-Client\//);
    expect(create).not.toHaveProperty("body");
    // The attach is an upgrade: its post line says so.
    expect(lines.find((l) => l.path.endsWith("/attach") && l.stage === "post")).toMatchObject({
      status: 101,
      streamed: true,
    });
  });

  it("logs docker rm, and leaves calls outside its hooks (docker ps) alone", async () => {
    const name = uniqueName("removed");
    const id = succeeded(await target.docker(["create", ...containerFlags(name), BASE_IMAGE, "true"]))
      .stdout.toString()
      .trim();
    const before = (await records()).length;
    succeeded(await target.docker(["ps", "-a"]));
    expect((await records()).length).toBe(before);
    succeeded(await target.docker(["rm", "-f", name]));
    const removal = (await records()).slice(before);
    expect(removal.map((r) => `${r.stage} ${r.hook} ${r.status ?? ""}`.trim())).toEqual([
      "pre DELETE /containers/{id}",
      "post DELETE /containers/{id} 204",
    ]);
    expect(removal[0]).toMatchObject({ params: { id: name }, query: { force: "1" } });
    expect(id).toMatch(/^[0-9a-f]{64}$/);
  });

  it("logs docker exec: the exec's creation, start and inspection", async () => {
    const name = uniqueName("exec");
    succeeded(await target.docker(["run", "-d", ...containerFlags(name), BASE_IMAGE, "sleep", "30"]));
    const before = (await records()).length;
    const exec = succeeded(await target.docker(["exec", name, "sh", "-c", "echo hi"]));
    expect(exec.stdout.toString()).toBe("hi\n");
    const lines = (await records()).slice(before).filter((r) => r.stage === "post");
    expect(lines.map((r) => `${r.hook} ${r.status}`)).toEqual(
      expect.arrayContaining(["POST /containers/{id}/exec 201", "* /exec/{id}/* 101", "* /exec/{id}/* 200"]),
    );
    succeeded(await target.docker(["rm", "-f", name]));
  });

  it("logs docker build, whose streamed answer it sees by status only", async () => {
    const context = join(dir, "build");
    await mkdir(context);
    await writeFile(join(context, "Dockerfile"), `FROM ${BASE_IMAGE}\nLABEL audited=yes\n`);
    const tag = `${uniqueName("build")}:latest`;
    const before = (await records()).length;
    succeeded(
      await target.docker(["build", "-q", "--label", RUN_LABEL, "-t", tag, context], {
        env: { DOCKER_BUILDKIT: "0" },
      }),
    );
    const lines = (await records()).slice(before).filter((r) => r.hook === "POST /build");
    expect(lines).toMatchObject([
      { stage: "pre", query: { t: tag } },
      { stage: "post", status: 200, streamed: true },
    ]);
    expect(lines[0]!.requestId).toBe(lines[1]!.requestId);
  });

  it("never blocks Docker: with the logger gone, its failures are ignored", async () => {
    await running.close();
    const name = uniqueName("unaudited");
    succeeded(await target.docker(["run", "--rm", ...containerFlags(name), BASE_IMAGE, "true"]));
    expect((await records()).filter((r) => r.query.name === name)).toEqual([]);
  });
});
