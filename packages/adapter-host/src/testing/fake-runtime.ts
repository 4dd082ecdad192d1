import { randomBytes } from "node:crypto";
import { rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { join } from "node:path";
import { AdapterHostError, AdapterHostErrorCode } from "../errors.js";
import {
  ADAPTER_LABEL,
  type AdapterRuntime,
  type ContainerSpec,
  type ContainerState,
  dockerNotAllowed,
  type EventSubscription,
  type LogChunk,
  type LogOptions,
  type PullProgress,
  type RuntimeEvent,
  SOCKET_FILE,
} from "../runtime.js";

/** What a fake image does when its container starts. */
export interface FakeImage {
  /** serve: listen on the socket; exit: exit at once with this code; silent: run, never listen. */
  run?: "serve" | { exit: number } | "silent";
  /** What the container writes to its logs when it starts. */
  logs?: LogChunk[];
  /** The handshake reply (default `{ version: "2", name: body.name ?? declares, hooks }`), or a status + body. */
  handshake?: (body: Record<string, unknown>) => unknown | { status: number; body: unknown };
  /** The name it declares when not given one. */
  declares?: string;
  hooks?: { method: string; path: string; stage: "pre" | "post" }[];
  /** Labelled io.powerstrip.loader=true: refused unless the spec allows it the engine socket. */
  loader?: boolean;
}

interface FakeContainer {
  spec: ContainerSpec;
  id: string;
  image: FakeImage;
  running: boolean;
  exitCode: number;
  restartCount: number;
  server?: Server;
  logs: LogChunk[];
}

/**
 * An AdapterRuntime without Docker: "images" are behaviours, "containers" are in-process HTTP
 * adapters on the real socket path in the socket directory the host made. Records every call in
 * order (`calls`), so tests can check what was created and removed, and when.
 */
export class FakeRuntime implements AdapterRuntime {
  /** Images present locally. */
  readonly local = new Map<string, FakeImage>();
  /** Images a pull can fetch, with the progress it reports; anything else fails to pull. */
  readonly pullable = new Map<string, { image: FakeImage; progress: PullProgress[] }>();
  readonly containers = new Map<string, FakeContainer>();
  readonly calls: string[] = [];
  private readonly listeners = new Set<(event: RuntimeEvent) => void>();
  /** Makes the next matching operation fail with this error. */
  failures: { op: string; error: Error }[] = [];

  async ensureImage(image: string, onProgress?: (progress: PullProgress) => void): Promise<void> {
    this.calls.push(`ensureImage ${image}`);
    this.maybeFail("ensureImage");
    if (this.local.has(image)) return;
    const remote = this.pullable.get(image);
    if (remote === undefined) {
      throw new AdapterHostError(
        AdapterHostErrorCode.PullFailed,
        `cannot pull ${image}: Get "http://${image.split("/")[0]}/v2/": connection refused`,
      );
    }
    for (const progress of remote.progress) onProgress?.(progress);
    this.local.set(image, remote.image);
  }

  async createAndStart(spec: ContainerSpec): Promise<string> {
    this.calls.push(`create ${spec.name}`);
    this.maybeFail("createAndStart");
    if ([...this.containers.values()].some((c) => c.spec.name === spec.name)) {
      throw new AdapterHostError(
        AdapterHostErrorCode.NameTaken,
        `a container named ${spec.name} already exists: remove it (docker rm -f ${spec.name}) or load this adapter under another --name`,
      );
    }
    const image = this.local.get(spec.image);
    if (image === undefined) throw new Error(`no such image ${spec.image} (ensureImage first)`);
    if (image.loader && spec.allowDocker !== true) throw dockerNotAllowed(spec.image);
    const id = randomBytes(32).toString("hex");
    const container: FakeContainer = {
      spec,
      id,
      image,
      running: false,
      exitCode: 0,
      restartCount: 0,
      logs: [],
    };
    this.containers.set(id, container);
    await this.boot(container);
    return id;
  }

  async start(id: string): Promise<void> {
    this.calls.push(`start ${this.nameOf(id)}`);
    const container = this.containers.get(id);
    if (container === undefined) throw new Error(`no such container ${id}`);
    if (!container.running) await this.boot(container);
  }

  async findByLabel(adapter: string): Promise<ContainerState[]> {
    return [...this.containers.values()]
      .filter((c) => c.spec.labels[ADAPTER_LABEL] === adapter)
      .map((c) => this.state(c));
  }

  async inspect(id: string): Promise<ContainerState | undefined> {
    const container = this.containers.get(id);
    return container === undefined ? undefined : this.state(container);
  }

  async stopAndRemove(id: string, options: { timeoutS?: number } = {}): Promise<void> {
    this.calls.push(`remove ${this.nameOf(id)}${options.timeoutS === 0 ? " (kill)" : ""}`);
    this.maybeFail("stopAndRemove");
    const container = this.containers.get(id);
    if (container === undefined) return;
    if (container.running) await this.stop(container, 0);
    this.containers.delete(id);
    this.emit({ action: "destroy", id, adapter: container.spec.labels[ADAPTER_LABEL]! });
  }

  async *logs(id: string, options: LogOptions = {}): AsyncIterable<LogChunk> {
    const container = this.containers.get(id);
    if (container === undefined) throw new Error(`no such container ${id}`);
    const logs = options.tail === undefined ? container.logs : container.logs.slice(-options.tail);
    for (const chunk of logs) yield chunk;
  }

  events(onEvent: (event: RuntimeEvent) => void): EventSubscription {
    this.listeners.add(onEvent);
    return { close: () => this.listeners.delete(onEvent) };
  }

  /** Subscribers to events right now. */
  get watchers(): number {
    return this.listeners.size;
  }

  /** The container of an adapter, by its label. */
  containerOf(adapter: string): FakeContainer | undefined {
    return [...this.containers.values()].find((c) => c.spec.labels[ADAPTER_LABEL] === adapter);
  }

  /** The adapter process dies (Docker would report `die`). */
  async crash(id: string, exitCode: number): Promise<void> {
    const container = this.containers.get(id)!;
    await this.stop(container, exitCode);
  }

  /** Docker restarts a dead container (restart policy): `start`. */
  async restart(id: string): Promise<void> {
    const container = this.containers.get(id)!;
    container.restartCount += 1;
    await this.boot(container);
  }

  /** Closes every fake adapter server (the test's end). */
  async shutdown(): Promise<void> {
    await Promise.all([...this.containers.values()].map((c) => closeServer(c.server)));
  }

  private async boot(container: FakeContainer): Promise<void> {
    const { image } = container;
    container.logs.push(...(image.logs ?? []));
    const run = image.run ?? "serve";
    if (typeof run === "object") {
      container.running = false;
      container.exitCode = run.exit;
      this.emit({ action: "start", id: container.id, adapter: container.spec.labels[ADAPTER_LABEL]! });
      this.emit({
        action: "die",
        id: container.id,
        adapter: container.spec.labels[ADAPTER_LABEL]!,
        exitCode: run.exit,
      });
      return;
    }
    container.running = true;
    if (run === "serve") container.server = await serveAdapter(container);
    this.emit({ action: "start", id: container.id, adapter: container.spec.labels[ADAPTER_LABEL]! });
  }

  private async stop(container: FakeContainer, exitCode: number): Promise<void> {
    await closeServer(container.server);
    container.server = undefined;
    container.running = false;
    container.exitCode = exitCode;
    this.emit({ action: "die", id: container.id, adapter: container.spec.labels[ADAPTER_LABEL]!, exitCode });
  }

  private state(c: FakeContainer): ContainerState {
    return {
      id: c.id,
      name: c.spec.name,
      image: c.spec.image,
      labels: { ...c.spec.labels },
      running: c.running,
      status: c.running ? "running" : "exited",
      exitCode: c.exitCode,
      restartCount: c.restartCount,
      socketDir: c.spec.socketDir,
    };
  }

  private nameOf(id: string): string {
    return this.containers.get(id)?.spec.name ?? id.slice(0, 12);
  }

  private maybeFail(op: string): void {
    const index = this.failures.findIndex((f) => f.op === op);
    if (index === -1) return;
    const [failure] = this.failures.splice(index, 1);
    throw failure!.error;
  }

  private emit(event: RuntimeEvent): void {
    for (const listener of this.listeners) listener(event);
  }
}

/** A hand-written v2 adapter on the container's socket, as its image says. */
async function serveAdapter(container: FakeContainer): Promise<Server> {
  const { image } = container;
  const socketPath = join(container.spec.socketDir, SOCKET_FILE);
  rmSync(socketPath, { force: true });
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = JSON.parse(Buffer.concat(chunks).toString() || "null") as Record<string, unknown>;
      let status = 200;
      let reply: unknown;
      if (req.url === "/powerstrip/handshake") {
        reply = image.handshake
          ? image.handshake(body)
          : { version: "2", name: body.name ?? image.declares ?? "fake", hooks: image.hooks ?? [] };
        if (reply && typeof reply === "object" && "status" in reply && "body" in reply) {
          status = (reply as { status: number }).status;
          reply = (reply as { body: unknown }).body;
        }
      } else {
        reply = { action: body.stage === "post" ? "pass" : "allow" };
      }
      res.writeHead(status, { "content-type": "application/json" });
      res.end(JSON.stringify(reply));
    });
  });
  await new Promise<void>((resolve) => server.listen(socketPath, resolve));
  return server;
}

function closeServer(server: Server | undefined): Promise<void> {
  if (server === undefined || !server.listening) return Promise.resolve();
  server.closeAllConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}
