import type { Readable } from "node:stream";
import { parseAddress } from "@powerstrip/proxy-core";
import Docker from "dockerode";
import { AdapterHostError, AdapterHostErrorCode } from "./errors.js";
import {
  ADAPTER_LABEL,
  type AdapterRuntime,
  CONTAINER_SOCKET_DIR,
  type ContainerSpec,
  type ContainerState,
  dockerNotAllowed,
  type EventSubscription,
  LOADER_DOCKER_SOCKET,
  LOADER_LABEL,
  type LogChunk,
  type LogOptions,
  type PullProgress,
  type RuntimeEvent,
} from "./runtime.js";

export interface DockerRuntimeOptions {
  /** Seconds between SIGTERM and SIGKILL when an adapter is stopped (default 10, as `docker stop`). */
  stopTimeoutS?: number;
  /** How long to wait before re-subscribing to the engine's events after the stream broke (default 1000 ms). */
  eventsRetryMs?: number;
  /**
   * The engine's unix socket on this host, mounted into loader images' containers (images labelled
   * `io.powerstrip.loader=true`). `connect()` sets it for a `unix://` address; without it loader
   * images are refused.
   */
  engineSocket?: string;
}

/** A dockerode error, as far as this file reads it. */
interface DockerodeError {
  statusCode?: number;
  json?: { message?: string } | null;
  message: string;
  code?: string;
}

/** The engine's reason, without dockerode's `(HTTP code 500) server error - ` prefix. */
export function dockerReason(error: unknown): string {
  const e = error as DockerodeError;
  if (typeof e?.json?.message === "string") return e.json.message.trim();
  if (e?.code !== undefined && e.statusCode === undefined) return `cannot reach the Docker engine: ${e.code}`;
  return String(e?.message ?? error)
    .replace(/^\(HTTP code \d+\) [^-]*- /, "")
    .trim();
}

function statusOf(error: unknown): number | undefined {
  return (error as DockerodeError)?.statusCode;
}

/** The adapter runtime over the Docker Engine API (dockerode). The control path only. */
export class DockerRuntime implements AdapterRuntime {
  private readonly stopTimeoutS: number;
  private readonly eventsRetryMs: number;
  private readonly engineSocket: string | undefined;

  constructor(
    private readonly docker: Docker,
    options: DockerRuntimeOptions = {},
  ) {
    this.stopTimeoutS = options.stopTimeoutS ?? 10;
    this.eventsRetryMs = options.eventsRetryMs ?? 1000;
    this.engineSocket = options.engineSocket;
  }

  /** A runtime for the engine at `unix:///var/run/docker.sock` or `tcp://host:port`. */
  static connect(address: string, options: DockerRuntimeOptions = {}): DockerRuntime {
    const parsed = parseAddress(address);
    const docker =
      parsed.kind === "unix"
        ? new Docker({ socketPath: parsed.path })
        : new Docker({ host: parsed.host, port: parsed.port, protocol: "http" });
    const engineSocket = parsed.kind === "unix" ? parsed.path : undefined;
    return new DockerRuntime(docker, { ...(engineSocket === undefined ? {} : { engineSocket }), ...options });
  }

  async ensureImage(image: string, onProgress?: (progress: PullProgress) => void): Promise<void> {
    if (await this.hasImage(image)) return;
    const cannotPull = (why: string, cause?: unknown) =>
      new AdapterHostError(
        AdapterHostErrorCode.PullFailed,
        `cannot pull ${image}: ${why}`,
        cause === undefined ? undefined : { cause },
      );
    let stream: Readable;
    try {
      stream = (await this.docker.pull(image)) as Readable;
    } catch (error) {
      throw cannotPull(dockerReason(error), error);
    }
    await new Promise<void>((resolve, reject) => {
      let buffered = "";
      let failed: string | undefined;
      const line = (text: string) => {
        if (text.trim() === "") return;
        let event: { status?: string; id?: string; progress?: string; error?: string };
        try {
          event = JSON.parse(text);
        } catch {
          return;
        }
        if (typeof event.error === "string") {
          failed ??= event.error;
          return;
        }
        if (typeof event.status === "string" && onProgress) {
          const progress: PullProgress = { status: event.status };
          if (typeof event.id === "string") progress.id = event.id;
          if (typeof event.progress === "string" && event.progress !== "") progress.progress = event.progress;
          onProgress(progress);
        }
      };
      stream.setEncoding("utf8");
      stream.on("data", (chunk: string) => {
        buffered += chunk;
        let newline = buffered.indexOf("\n");
        while (newline !== -1) {
          line(buffered.slice(0, newline));
          buffered = buffered.slice(newline + 1);
          newline = buffered.indexOf("\n");
        }
      });
      stream.once("error", (error) => reject(cannotPull(error.message, error)));
      stream.once("end", () => {
        line(buffered);
        if (failed !== undefined) reject(cannotPull(failed));
        else resolve();
      });
    });
    if (!(await this.hasImage(image)))
      throw cannotPull("the engine reported no error, but the image is not there");
  }

  async createAndStart(spec: ContainerSpec): Promise<string> {
    const binds = [`${spec.socketDir}:${CONTAINER_SOCKET_DIR}`];
    if (await this.isLoaderImage(spec.image)) {
      if (spec.allowDocker !== true) throw dockerNotAllowed(spec.image);
      if (this.engineSocket === undefined) {
        throw new AdapterHostError(
          AdapterHostErrorCode.StartFailed,
          `${spec.image} is a loader image (label ${LOADER_LABEL}=true): it needs the Docker engine's unix socket, and this proxy reaches the engine over TCP`,
        );
      }
      binds.push(`${this.engineSocket}:${LOADER_DOCKER_SOCKET}`);
    }
    let id: string;
    try {
      const container = await this.docker.createContainer({
        name: spec.name,
        Image: spec.image,
        Env: Object.entries(spec.env).map(([key, value]) => `${key}=${value}`),
        Labels: spec.labels,
        Tty: false,
        HostConfig: {
          Binds: binds,
          RestartPolicy: { Name: "unless-stopped" },
          NetworkMode: spec.network,
        },
      });
      id = container.id;
    } catch (error) {
      if (statusOf(error) === 409) {
        throw new AdapterHostError(
          AdapterHostErrorCode.NameTaken,
          `a container named ${spec.name} already exists: remove it (docker rm -f ${spec.name}) or load this adapter under another --name`,
          { cause: error },
        );
      }
      throw this.failed(`cannot create container ${spec.name} from ${spec.image}`, error);
    }
    try {
      await this.docker.getContainer(id).start();
    } catch (error) {
      await this.docker
        .getContainer(id)
        .remove({ force: true, v: true })
        .catch(() => {});
      throw this.failed(`cannot start container ${spec.name} from ${spec.image}`, error);
    }
    return id;
  }

  async start(id: string): Promise<void> {
    try {
      await this.docker.getContainer(id).start();
    } catch (error) {
      if (statusOf(error) === 304) return; // already running
      throw this.failed(`cannot start container ${id.slice(0, 12)}`, error);
    }
  }

  async findByLabel(adapter: string): Promise<ContainerState[]> {
    let listed: Docker.ContainerInfo[];
    try {
      listed = await this.docker.listContainers({
        all: true,
        filters: { label: [`${ADAPTER_LABEL}=${adapter}`] },
      });
    } catch (error) {
      throw this.failed(`cannot list the containers of adapter ${adapter}`, error);
    }
    const states = await Promise.all(listed.map((c) => this.inspect(c.Id)));
    return states.filter((s): s is ContainerState => s !== undefined);
  }

  async inspect(id: string): Promise<ContainerState | undefined> {
    let info: Docker.ContainerInspectInfo;
    try {
      info = await this.docker.getContainer(id).inspect();
    } catch (error) {
      if (statusOf(error) === 404) return undefined;
      throw this.failed(`cannot inspect container ${id.slice(0, 12)}`, error);
    }
    const state = info.State;
    return {
      id: info.Id,
      name: info.Name.replace(/^\//, ""),
      image: info.Config.Image,
      labels: info.Config.Labels ?? {},
      running: state.Running && !state.Restarting,
      status: state.Status,
      exitCode: state.ExitCode,
      restartCount: info.RestartCount,
      socketDir: info.Mounts.find((m) => m.Destination === CONTAINER_SOCKET_DIR)?.Source,
    };
  }

  async stopAndRemove(id: string, options: { timeoutS?: number } = {}): Promise<void> {
    const container = this.docker.getContainer(id);
    try {
      await container.stop({ t: options.timeoutS ?? this.stopTimeoutS });
    } catch (error) {
      const status = statusOf(error);
      if (status !== 304 && status !== 404)
        throw this.failed(`cannot stop container ${id.slice(0, 12)}`, error);
    }
    try {
      await container.remove({ force: true, v: true });
    } catch (error) {
      const status = statusOf(error);
      // 409: a removal is already in progress.
      if (status !== 404 && status !== 409)
        throw this.failed(`cannot remove container ${id.slice(0, 12)}`, error);
    }
  }

  async *logs(id: string, options: LogOptions = {}): AsyncIterable<LogChunk> {
    const container = this.docker.getContainer(id);
    const request = {
      stdout: true,
      stderr: true,
      ...(options.tail === undefined ? {} : { tail: options.tail }),
    } as const;
    let source: Readable | Buffer;
    try {
      source = options.follow
        ? ((await container.logs({ ...request, follow: true })) as unknown as Readable)
        : ((await container.logs({ ...request, follow: false })) as unknown as Buffer);
    } catch (error) {
      throw this.failed(`cannot read the logs of container ${id.slice(0, 12)}`, error);
    }
    const demuxer = new Demuxer();
    if (Buffer.isBuffer(source)) {
      yield* demuxer.push(source);
      return;
    }
    const stream = source;
    const abort = () => stream.destroy();
    if (options.signal?.aborted) abort();
    options.signal?.addEventListener("abort", abort, { once: true });
    try {
      for await (const chunk of stream) yield* demuxer.push(chunk as Buffer);
    } catch (error) {
      if (!options.signal?.aborted)
        throw this.failed(`the logs of container ${id.slice(0, 12)} broke off`, error);
    } finally {
      options.signal?.removeEventListener("abort", abort);
      stream.destroy();
    }
  }

  events(onEvent: (event: RuntimeEvent) => void): EventSubscription {
    let closed = false;
    let current: Readable | undefined;
    let retry: NodeJS.Timeout | undefined;
    let since: number | undefined;
    const subscribe = async () => {
      if (closed) return;
      try {
        const stream = (await this.docker.getEvents({
          ...(since === undefined ? {} : { since }),
          filters: {
            type: ["container"],
            label: [ADAPTER_LABEL],
            event: ["start", "die", "destroy"],
          },
        })) as unknown as Readable;
        if (closed) {
          stream.destroy();
          return;
        }
        current = stream;
        let buffered = "";
        stream.setEncoding("utf8");
        stream.on("data", (chunk: string) => {
          buffered += chunk;
          let newline = buffered.indexOf("\n");
          while (newline !== -1) {
            const text = buffered.slice(0, newline);
            buffered = buffered.slice(newline + 1);
            newline = buffered.indexOf("\n");
            const event = parseEvent(text);
            if (event === undefined) continue;
            since = event.time;
            onEvent(event.event);
          }
        });
        stream.once("error", () => {});
        stream.once("close", again);
      } catch {
        again();
      }
    };
    const again = () => {
      current = undefined;
      if (closed) return;
      // Resume where the stream broke off, so no die or start is missed.
      since ??= Math.floor(Date.now() / 1000);
      retry = setTimeout(() => void subscribe(), this.eventsRetryMs);
      retry.unref();
    };
    void subscribe();
    return {
      close() {
        closed = true;
        clearTimeout(retry);
        current?.destroy();
      },
    };
  }

  /** True when the (local) image carries LOADER_LABEL=true. */
  private async isLoaderImage(image: string): Promise<boolean> {
    try {
      const info = await this.docker.getImage(image).inspect();
      return info.Config?.Labels?.[LOADER_LABEL] === "true";
    } catch (error) {
      if (statusOf(error) === 404) return false; // createContainer reports it
      throw this.failed(`cannot inspect image ${image}`, error);
    }
  }

  private async hasImage(image: string): Promise<boolean> {
    try {
      await this.docker.getImage(image).inspect();
      return true;
    } catch (error) {
      if (statusOf(error) === 404) return false;
      throw this.failed(`cannot inspect image ${image}`, error);
    }
  }

  private failed(what: string, error: unknown): AdapterHostError {
    return new AdapterHostError(AdapterHostErrorCode.DockerFailed, `${what}: ${dockerReason(error)}`, {
      cause: error,
    });
  }
}

function parseEvent(text: string): { event: RuntimeEvent; time: number } | undefined {
  if (text.trim() === "") return undefined;
  let raw: {
    Action?: string;
    id?: string;
    time?: number;
    Actor?: { ID?: string; Attributes?: Record<string, string> };
  };
  try {
    raw = JSON.parse(text);
  } catch {
    return undefined;
  }
  const action = raw.Action;
  const attributes = raw.Actor?.Attributes ?? {};
  const adapter = attributes[ADAPTER_LABEL];
  const id = raw.Actor?.ID ?? raw.id;
  if ((action !== "start" && action !== "die" && action !== "destroy") || adapter === undefined || !id) {
    return undefined;
  }
  const event: RuntimeEvent = { action, id, adapter };
  if (action === "die" && attributes.exitCode !== undefined) event.exitCode = Number(attributes.exitCode);
  return { event, time: raw.time ?? Math.floor(Date.now() / 1000) };
}

/**
 * Splits Docker's multiplexed log stream (8-byte frame headers: stream, 0, 0, 0, size) into
 * stdout and stderr chunks, across reads that cut frames anywhere.
 */
export class Demuxer {
  private pending: Buffer = Buffer.alloc(0);

  *push(chunk: Buffer): Generator<LogChunk> {
    this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    while (this.pending.length >= 8) {
      const size = this.pending.readUInt32BE(4);
      if (this.pending.length < 8 + size) break;
      const stream = this.pending[0] === 2 ? "stderr" : "stdout";
      const text = this.pending.subarray(8, 8 + size).toString("utf8");
      this.pending = this.pending.subarray(8 + size);
      if (text !== "") yield { stream, text };
    }
  }
}
