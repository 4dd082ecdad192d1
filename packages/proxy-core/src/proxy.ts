import { type Address, parseAddress } from "./addresses.js";
import { ClientConnection } from "./client-connection.js";
import { ConnectionSet, type DrainResult } from "./connection-set.js";
import { HookRegistry } from "./hooks/registry.js";
import { defaultSocketGroup, type Listener, type ListenOptions, listen } from "./listeners.js";
import { Observers } from "./observe/observer.js";
import type { TlsListenOptions } from "./tls.js";
import { UpstreamPool } from "./upstream-pool.js";

export interface ProxyOptions {
  /**
   * Where clients connect: `unix:///path.sock` or `tcp://HOST:PORT` (loopback only, unless `tls`
   * verifies client certificates).
   */
  listen: string[];
  /** The Docker engine: `unix:///var/run/docker.sock` or `tcp://…`. */
  docker: string;
  /** Mode of unix sockets (default 0o660). */
  socketMode?: number;
  /** Group of unix sockets (default `docker` when it exists). */
  socketGroup?: string | number;
  /** TLS on every tcp:// listener, like `dockerd --tlsverify`; see TlsListenOptions. */
  tls?: TlsListenOptions;
  /** Idle keep-alive connections kept to the engine (default 64). */
  maxIdleUpstream?: number;
  /** Largest body read whole for hooks, requests and responses alike (default 16 MiB). */
  maxBodyBytes?: number;
  /** Hears of an observer's first throw (trace, metrics, logs); default console.error. */
  onObserverError?: (error: unknown) => void;
}

export const DEFAULT_MAX_BODY_BYTES = 16 * 1024 * 1024;

export interface RunningProxy {
  /** The addresses actually listened on (a tcp port 0 is resolved). */
  readonly addresses: string[];
  /** The live hooks: the control path registers and unregisters adapters here. */
  readonly hooks: HookRegistry;
  /** Where trace, metrics and logs watch the data path: `observers.add(observer)`. */
  readonly observers: Observers;
  /** Stops listening, cuts open connections and removes the socket files. */
  close(): Promise<void>;
  /**
   * Graceful shutdown: stops listening (the socket files go at once, so new clients are refused
   * rather than left waiting), closes idle connections, lets exchanges in flight finish (hooks
   * included), then closes. Whatever is still open after `timeoutMs` — tunnels, follow streams,
   * slow calls — is cut. Then as close().
   */
  drain(timeoutMs: number): Promise<DrainResult>;
}

export async function startProxy(options: ProxyOptions): Promise<RunningProxy> {
  const listenAddresses: Address[] = options.listen.map(parseAddress);
  const upstream = parseAddress(options.docker);
  const pool = new UpstreamPool(upstream, { maxIdle: options.maxIdleUpstream ?? 64 });
  const connections = new ConnectionSet();
  const hooks = new HookRegistry();
  const observers = new Observers(options.onObserverError);
  const context = {
    pool,
    hooks,
    observers,
    maxBodyBytes: options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES,
    onClosed: (connection: ClientConnection) => connections.closed(connection),
  };
  const listenOptions: ListenOptions = {
    socketMode: options.socketMode ?? 0o660,
    socketGroup: options.socketGroup ?? (await defaultSocketGroup()),
  };
  if (options.tls !== undefined) listenOptions.tls = options.tls;
  const listeners: Listener[] = [];
  try {
    for (const address of listenAddresses) {
      listeners.push(
        await listen(address, listenOptions, (socket) => {
          connections.add(socket, new ClientConnection(socket, context));
        }),
      );
    }
  } catch (error) {
    await Promise.all(listeners.map((l) => l.close()));
    pool.destroy();
    throw error;
  }
  let closing: Promise<unknown> | null = null;
  const stopListening = () => {
    closing ??= Promise.all(listeners.map((l) => l.close()));
    return closing;
  };
  const release = () => {
    pool.destroy();
    for (const adapter of hooks.list()) adapter.transport.close();
  };
  return {
    addresses: listeners.map((l) => l.address),
    hooks,
    observers,
    async close() {
      const stopped = stopListening();
      connections.destroyAll();
      release();
      await stopped;
    },
    async drain(timeoutMs: number) {
      const stopped = stopListening();
      // Adapters and the engine stay reachable meanwhile: the calls in flight still need them.
      const result = await connections.drain(timeoutMs);
      release();
      await stopped;
      return result;
    },
  };
}
