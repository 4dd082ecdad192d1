import { type Address, parseAddress } from "./addresses.js";
import { ClientConnection } from "./client-connection.js";
import { HookRegistry } from "./hooks/registry.js";
import { defaultSocketGroup, type Listener, listen } from "./listeners.js";
import { UpstreamPool } from "./upstream-pool.js";

export interface ProxyOptions {
  /** Where clients connect: `unix:///path.sock` or `tcp://127.0.0.1:PORT` (loopback only). */
  listen: string[];
  /** The Docker engine: `unix:///var/run/docker.sock` or `tcp://…`. */
  docker: string;
  /** Mode of unix sockets (default 0o660). */
  socketMode?: number;
  /** Group of unix sockets (default `docker` when it exists). */
  socketGroup?: string | number;
  /** Idle keep-alive connections kept to the engine (default 64). */
  maxIdleUpstream?: number;
  /** Largest body read whole for hooks, requests and responses alike (default 16 MiB). */
  maxBodyBytes?: number;
}

export const DEFAULT_MAX_BODY_BYTES = 16 * 1024 * 1024;

export interface RunningProxy {
  /** The addresses actually listened on (a tcp port 0 is resolved). */
  readonly addresses: string[];
  /** The live hooks: the control path registers and unregisters adapters here. */
  readonly hooks: HookRegistry;
  /** Stops listening, cuts open connections and removes the socket files. */
  close(): Promise<void>;
}

export async function startProxy(options: ProxyOptions): Promise<RunningProxy> {
  const listenAddresses: Address[] = options.listen.map(parseAddress);
  const upstream = parseAddress(options.docker);
  const pool = new UpstreamPool(upstream, { maxIdle: options.maxIdleUpstream ?? 64 });
  const connections = new Set<ClientConnection>();
  const hooks = new HookRegistry();
  const context = {
    pool,
    hooks,
    maxBodyBytes: options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES,
    onClosed: (connection: ClientConnection) => connections.delete(connection),
  };
  const listenOptions = {
    socketMode: options.socketMode ?? 0o660,
    socketGroup: options.socketGroup ?? (await defaultSocketGroup()),
  };
  const listeners: Listener[] = [];
  try {
    for (const address of listenAddresses) {
      listeners.push(
        await listen(address, listenOptions, (socket) => {
          connections.add(new ClientConnection(socket, context));
        }),
      );
    }
  } catch (error) {
    await Promise.all(listeners.map((l) => l.close()));
    pool.destroy();
    throw error;
  }
  return {
    addresses: listeners.map((l) => l.address),
    hooks,
    async close() {
      const closing = Promise.all(listeners.map((l) => l.close()));
      for (const connection of connections) connection.destroy();
      connections.clear();
      pool.destroy();
      for (const adapter of hooks.list()) adapter.transport.close();
      await closing;
    },
  };
}
