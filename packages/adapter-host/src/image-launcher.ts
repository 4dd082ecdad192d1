import { chmod, mkdir, rm } from "node:fs/promises";
import { connect } from "node:net";
import { join } from "node:path";
import { ADAPTER_ENDPOINTS } from "@powerstrip/protocol";
import { HttpAdapterTransport } from "@powerstrip/proxy-core";
import { AdapterHostError, AdapterHostErrorCode } from "./errors.js";
import { type Handshake, performHandshake } from "./handshake.js";
import {
  ADAPTER_LABEL,
  type AdapterRuntime,
  CONTAINER_PREFIX,
  CONTAINER_SOCKET_DIR,
  type ContainerState,
  IMAGE_LABEL,
  NAME_ENV,
  SOCKET_ENV,
  SOCKET_FILE,
} from "./runtime.js";

/** An image adapter that is running and has answered its handshake (not yet registered). */
export interface Launched {
  containerId: string;
  containerName: string;
  transport: HttpAdapterTransport;
  handshake: Handshake;
}

export interface LaunchSpec {
  /** The adapter's (possibly provisional) name: the container is `powerstrip-<name>`. */
  name: string;
  image: string;
  env: Record<string, string>;
  network: string;
  /** Send `name` in the handshake (an operator's name, or one the adapter already declared). */
  sendName: boolean;
  /** The operator grants a loader image the engine socket (`--allow-docker`). */
  allowDocker?: boolean;
}

export interface LauncherOptions {
  runtime: AdapterRuntime;
  /** Socket directories live in `<runDir>/<name>/`. */
  runDir: string;
  proxyVersion: string;
  handshakeTimeoutMs: number;
  /** How long an adapter may take to listen on its socket. */
  socketTimeoutMs: number;
  /** Extra labels for every container (the adapter labels always win). */
  labels: Record<string, string>;
}

/** How often the socket and the container are looked at while waiting. */
const POLL_MS = 100;
/** Log lines quoted when an adapter fails to start. */
const LOG_LINES = 20;

/**
 * Runs image adapters: a socket directory on the host, a container with it mounted, a wait for
 * the socket, a handshake. Each failure removes what that step created.
 */
export class ImageLauncher {
  constructor(private readonly options: LauncherOptions) {}

  get runtime(): AdapterRuntime {
    return this.options.runtime;
  }

  socketDir(name: string): string {
    return join(this.options.runDir, name);
  }

  /** Creates, starts and handshakes a fresh container; on failure removes it and its socket directory. */
  async launch(spec: LaunchSpec): Promise<Launched> {
    const { runtime } = this.options;
    const socketDir = this.socketDir(spec.name);
    const containerName = `${CONTAINER_PREFIX}${spec.name}`;
    // A fresh directory: no stale socket to mistake for the new adapter's.
    await rm(socketDir, { recursive: true, force: true });
    await mkdir(socketDir, { recursive: true, mode: 0o700 });
    await chmod(socketDir, 0o700);
    let containerId: string | undefined;
    try {
      containerId = await runtime.createAndStart({
        name: containerName,
        image: spec.image,
        env: {
          ...spec.env,
          [SOCKET_ENV]: `${CONTAINER_SOCKET_DIR}/${SOCKET_FILE}`,
          [NAME_ENV]: spec.name,
        },
        labels: { ...this.options.labels, [ADAPTER_LABEL]: spec.name, [IMAGE_LABEL]: spec.image },
        socketDir,
        network: spec.network,
        ...(spec.allowDocker ? { allowDocker: true } : {}),
      });
      return await this.connect({
        containerId,
        containerName,
        socketDir,
        source: spec.image,
        name: spec.sendName ? spec.name : undefined,
        restarts: 0,
      });
    } catch (error) {
      await this.discard(containerId, spec.name);
      throw error;
    }
  }

  /**
   * Takes over a container of a previous run: starts it when stopped, waits for its socket and
   * handshakes afresh under `name`. The container is left as it is when this fails.
   */
  async adopt(name: string, image: string, container: ContainerState): Promise<Launched> {
    if (!container.running) await this.options.runtime.start(container.id);
    return this.connect({
      containerId: container.id,
      containerName: container.name,
      socketDir: container.socketDir ?? this.socketDir(name),
      source: image,
      name,
      restarts: undefined,
    });
  }

  /** Waits for the socket of a container Docker restarted, and handshakes again. */
  reconnect(name: string, image: string, containerId: string, containerName: string, socketDir: string) {
    return this.connect({ containerId, containerName, socketDir, source: image, name, restarts: undefined });
  }

  /** Removes a container at once (no grace period: it failed) and the socket directory. */
  async discard(containerId: string | undefined, name: string): Promise<void> {
    if (containerId !== undefined) {
      await this.options.runtime.stopAndRemove(containerId, { timeoutS: 0 }).catch(() => {});
    }
    await rm(this.socketDir(name), { recursive: true, force: true }).catch(() => {});
  }

  /** Stops (gracefully) and removes every container of `name`, and its socket directory. */
  async remove(name: string, knownId: string | undefined): Promise<void> {
    const { runtime } = this.options;
    const ids = new Set<string>(knownId === undefined ? [] : [knownId]);
    for (const c of await runtime.findByLabel(name)) ids.add(c.id);
    await Promise.all([...ids].map((id) => runtime.stopAndRemove(id)));
    await rm(this.socketDir(name), { recursive: true, force: true });
  }

  private async connect(target: {
    containerId: string;
    containerName: string;
    socketDir: string;
    source: string;
    name: string | undefined;
    /** Restarts the container had when it was last good (undefined: whatever it has now). */
    restarts: number | undefined;
  }): Promise<Launched> {
    const socketPath = join(target.socketDir, SOCKET_FILE);
    await this.waitForSocket(target, socketPath);
    const transport = new HttpAdapterTransport({ socketPath, path: ADAPTER_ENDPOINTS.hook });
    try {
      const handshake = await performHandshake(transport, {
        source: target.source,
        proxyVersion: this.options.proxyVersion,
        name: target.name,
        timeoutMs: this.options.handshakeTimeoutMs,
      });
      return { containerId: target.containerId, containerName: target.containerName, transport, handshake };
    } catch (error) {
      transport.close();
      throw error;
    }
  }

  /**
   * Polls until something accepts connections on the socket, failing fast when the container
   * stops (or is being restarted) and at the deadline; both failures quote the container's last
   * log lines.
   */
  private async waitForSocket(
    target: { containerId: string; containerName: string; source: string; restarts: number | undefined },
    socketPath: string,
  ): Promise<void> {
    const { runtime, socketTimeoutMs } = this.options;
    const { containerId } = target;
    const deadline = Date.now() + socketTimeoutMs;
    const what = `adapter ${target.source} (container ${target.containerName})`;
    let restarts = target.restarts;
    for (;;) {
      if (await accepts(socketPath)) return;
      const state = await runtime.inspect(containerId);
      if (state === undefined) {
        throw new AdapterHostError(
          AdapterHostErrorCode.StartFailed,
          `${what} was removed before it listened on its socket`,
        );
      }
      restarts ??= state.restartCount;
      if (!state.running || state.restartCount > restarts) {
        const how =
          state.status === "restarting" || state.running ? "exited and is being restarted" : "exited";
        throw new AdapterHostError(
          AdapterHostErrorCode.StartFailed,
          `${what} ${how} with code ${state.exitCode} before it listened on its socket${await this.lastLines(containerId)}`,
        );
      }
      if (Date.now() >= deadline) {
        throw new AdapterHostError(
          AdapterHostErrorCode.StartFailed,
          `${what} did not listen on ${CONTAINER_SOCKET_DIR}/${SOCKET_FILE} within ${formatMs(socketTimeoutMs)} (does its process call serve() from @powerstrip/adapter-sdk, or listen on $${SOCKET_ENV}?)${await this.lastLines(containerId)}`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    }
  }

  /** `; its last log lines: a | b | c`, or that it logged nothing. */
  private async lastLines(containerId: string): Promise<string> {
    let text = "";
    try {
      for await (const chunk of this.options.runtime.logs(containerId, { tail: LOG_LINES }))
        text += chunk.text;
    } catch {
      return "";
    }
    const lines = text
      .split("\n")
      .map((l) => l.trim())
      .filter(Boolean)
      .slice(-LOG_LINES);
    return lines.length === 0 ? "; it logged nothing" : `; its last log lines: ${lines.join(" | ")}`;
  }
}

/** True when something accepts a connection on the unix socket. */
function accepts(socketPath: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ path: socketPath });
    const timer = setTimeout(() => done(false), 1000);
    const done = (ok: boolean) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(ok);
    };
    socket.once("connect", () => done(true));
    socket.once("error", () => done(false));
  });
}

function formatMs(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${ms} ms`;
}
