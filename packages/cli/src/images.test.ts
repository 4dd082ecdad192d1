import { rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { join } from "node:path";
import {
  ADAPTER_LABEL,
  AdapterHost,
  AdapterHostError,
  AdapterHostErrorCode,
  type AdapterRuntime,
  type ContainerSpec,
  type ContainerState,
  type LogChunk,
  type PullProgress,
  SOCKET_FILE,
  StateStore,
  startAdminServer,
} from "@powerstrip/adapter-host";
import { validateAdapterInfo } from "@powerstrip/protocol";
import { HookRegistry } from "@powerstrip/proxy-core";
import { describe, expect, it, onTestFinished } from "vitest";
import { runCli, tempDir } from "./testing/harness.js";

const createHook = { method: "POST", path: "/containers/create", stage: "pre" };

/**
 * Just enough of a container runtime for the command's sake: a "container" is an in-process
 * adapter on the socket the host asked for; images pull with canned progress.
 */
class TinyRuntime implements AdapterRuntime {
  readonly local = new Set<string>(["acme/labels:1"]);
  readonly specs: ContainerSpec[] = [];
  private readonly running = new Map<string, { spec: ContainerSpec; server: Server }>();
  private next = 0;

  async ensureImage(image: string, onProgress?: (p: PullProgress) => void): Promise<void> {
    if (this.local.has(image)) return;
    if (!image.startsWith("localhost:5000/")) {
      throw new AdapterHostError(
        AdapterHostErrorCode.PullFailed,
        `cannot pull ${image}: Get "http://localhost:1/v2/": connection refused`,
      );
    }
    for (const status of [
      "Pulling fs layer",
      "Downloading",
      "Downloading",
      "Download complete",
      "Pull complete",
    ]) {
      onProgress?.({ id: "a1b2c3", status, ...(status === "Downloading" ? { progress: "[=>   ]" } : {}) });
    }
    onProgress?.({ status: `Status: Downloaded newer image for ${image}` });
    this.local.add(image);
  }

  async createAndStart(spec: ContainerSpec): Promise<string> {
    this.specs.push(spec);
    const id = `${String(++this.next).padStart(4, "0")}${"f".repeat(60)}`;
    const socket = join(spec.socketDir, SOCKET_FILE);
    rmSync(socket, { force: true });
    const server = createServer((req, res) => {
      let text = "";
      req.on("data", (c: Buffer) => {
        text += c;
      });
      req.on("end", () => {
        const body = JSON.parse(text || "{}");
        res.writeHead(200, { "content-type": "application/json" });
        res.end(JSON.stringify({ version: "2", name: body.name ?? "labels", hooks: [createHook] }));
      });
    });
    await new Promise<void>((resolve) => server.listen(socket, resolve));
    this.running.set(id, { spec, server });
    return id;
  }

  async start(): Promise<void> {}

  async findByLabel(adapter: string): Promise<ContainerState[]> {
    const found: ContainerState[] = [];
    for (const id of this.running.keys()) {
      const state = await this.inspect(id);
      if (state && state.labels[ADAPTER_LABEL] === adapter) found.push(state);
    }
    return found;
  }

  async inspect(id: string): Promise<ContainerState | undefined> {
    const c = this.running.get(id);
    if (!c) return undefined;
    return {
      id,
      name: c.spec.name,
      image: c.spec.image,
      labels: c.spec.labels,
      running: true,
      status: "running",
      exitCode: 0,
      restartCount: 0,
      socketDir: c.spec.socketDir,
    };
  }

  async stopAndRemove(id: string): Promise<void> {
    const c = this.running.get(id);
    this.running.delete(id);
    if (c) {
      c.server.closeAllConnections();
      await new Promise((resolve) => c.server.close(resolve));
    }
  }

  async *logs(_id: string, options: { tail?: number } = {}): AsyncIterable<LogChunk> {
    const chunks: LogChunk[] = [
      { stream: "stdout", text: "labels: listening\n" },
      { stream: "stderr", text: "labels: a warning\n" },
      { stream: "stdout", text: "labels: hooked a create\n" },
    ];
    yield* options.tail === undefined ? chunks : chunks.slice(-options.tail);
  }

  events() {
    return { close() {} };
  }

  async shutdown(): Promise<void> {
    await Promise.all([...this.running.keys()].map((id) => this.stopAndRemove(id)));
  }
}

async function startImageAdmin() {
  const runtime = new TinyRuntime();
  const store = await StateStore.open(tempDir("pst-cli-state-"));
  const host = new AdapterHost(new HookRegistry(), { runtime, store, socketTimeoutMs: 1000 });
  const server = await startAdminServer({ address: `unix://${join(tempDir(), "admin.sock")}`, host });
  onTestFinished(async () => {
    await server.close();
    await host.close();
    await runtime.shutdown();
  });
  const cli = (argv: string[], env: Record<string, string> = {}) =>
    runCli(["--admin", server.address, ...argv], env);
  return { runtime, host, cli };
}

describe("powerstrip load IMAGE", () => {
  it("shows pull progress on stderr, one line per change, and the result on stdout", async () => {
    const { runtime, cli } = await startImageAdmin();
    const result = await cli(
      ["load", "localhost:5000/acme/labels:1", "--env", "LOG_LEVEL=debug", "-e", "TOKEN", "--priority", "5"],
      { TOKEN: "s3cret" },
    );
    expect(result).toEqual({
      code: 0,
      stdout: "loaded labels (1 hook) from localhost:5000/acme/labels:1\n",
      stderr: [
        "a1b2c3: Pulling fs layer",
        "a1b2c3: Downloading",
        "a1b2c3: Download complete",
        "a1b2c3: Pull complete",
        "Status: Downloaded newer image for localhost:5000/acme/labels:1",
        "",
      ].join("\n"),
    });
    expect(runtime.specs[0]!.env).toMatchObject({ LOG_LEVEL: "debug", TOKEN: "s3cret" });
  });

  it("--quiet drops the progress; --json prints the AdapterInfo", async () => {
    const { cli } = await startImageAdmin();
    const result = await cli(["load", "localhost:5000/acme/labels:1", "-q", "--json"]);
    expect(result.code).toBe(0);
    expect(result.stderr).toBe("");
    const info = JSON.parse(result.stdout);
    expect(validateAdapterInfo(info).ok).toBe(true);
    expect(info).toMatchObject({ name: "labels", kind: "image", container: { name: "powerstrip-labels" } });
  });

  it("an image no registry has: one line naming it, exit 1", async () => {
    const { cli } = await startImageAdmin();
    expect(await cli(["load", "localhost:1/acme/labels:1"])).toEqual({
      code: 1,
      stdout: "",
      stderr:
        'powerstrip: cannot pull localhost:1/acme/labels:1: Get "http://localhost:1/v2/": connection refused\n',
    });
  });

  it.each([
    [["load", "--url", "unix:///x.sock", "--env", "A=1"], /--env is only for image adapters/],
    [["load", "--url", "unix:///x.sock", "--network", "host"], /--network is only for image adapters/],
    [["load", "acme/labels:1", "--env", "BAD-KEY=1"], /--env BAD-KEY=1: expected KEY=VALUE/],
    [["load", "acme/labels:1", "--env", "UNSET_HERE"], /--env UNSET_HERE: UNSET_HERE is not set here/],
    [
      ["load", "acme/labels:1", "--legacy", "--hook", "pre:GET /x"],
      /--legacy adapters are loaded with --url/,
    ],
    [["logs", "labels", "--tail", "x"], /option '-n, --tail <lines>' argument 'x' is invalid/],
  ])("refuses %j as a usage error", async (argv, message) => {
    const { cli } = await startImageAdmin();
    const result = await cli(argv);
    expect(result.code).toBe(2);
    expect(result.stdout).toBe("");
    expect(result.stderr).toMatch(message);
    expect(result.stderr.split("\n")).toHaveLength(2);
  });
});

describe("powerstrip ls, inspect, logs, reload for image adapters", () => {
  it("inspect shows the container; ls shows an ERROR column when one failed", async () => {
    const { host, cli } = await startImageAdmin();
    await cli(["load", "acme/labels:1"]);
    const inspected = await cli(["inspect", "labels"]);
    expect(inspected.stdout).toContain("Kind:            image\n");
    expect(inspected.stdout).toContain("Container:       powerstrip-labels (0001ffffffff)\n");

    const failed = host.inspect("labels");
    host.inspect = () => ({ ...failed, state: "failed", error: "its container exited with code 1" });
    host.list = () => [host.inspect("labels")];
    const table = await cli(["ls"]);
    const [header, row] = table.stdout.split("\n");
    expect(header).toMatch(/^NAME +SOURCE +STATE +HOOKS +SINCE +ERROR$/);
    expect(row).toMatch(/^labels +acme\/labels:1 +failed +1 +\S.* +its container exited with code 1$/);
  });

  it("logs: stdout to stdout, stderr to stderr; --tail; --json", async () => {
    const { cli } = await startImageAdmin();
    await cli(["load", "acme/labels:1"]);
    expect(await cli(["logs", "labels"])).toEqual({
      code: 0,
      stdout: "labels: listening\nlabels: hooked a create\n",
      stderr: "labels: a warning\n",
    });
    expect((await cli(["logs", "labels", "--tail", "1"])).stdout).toBe("labels: hooked a create\n");
    expect((await cli(["logs", "-n", "2", "--json", "labels"])).stdout).toBe(
      '{"stream":"stderr","text":"labels: a warning\\n"}\n{"stream":"stdout","text":"labels: hooked a create\\n"}\n',
    );
    expect(await cli(["logs", "nope"])).toEqual({
      code: 1,
      stdout: "",
      stderr: "powerstrip: no adapter named nope\n",
    });
  });

  it("reload: a new container, the same options", async () => {
    const { runtime, cli } = await startImageAdmin();
    await cli(["load", "acme/labels:1", "--env", "A=1"]);
    expect(await cli(["reload", "labels"])).toEqual({
      code: 0,
      stdout: "reloaded labels (1 hook) from acme/labels:1\n",
      stderr: "",
    });
    expect(runtime.specs).toHaveLength(2);
    expect(runtime.specs[1]!.env.A).toBe("1");
    const json = JSON.parse((await cli(["reload", "labels", "--json"])).stdout);
    expect(json.container.id.startsWith("0003")).toBe(true);
  });
});
