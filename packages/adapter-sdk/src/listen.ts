import { chmod, lstat, mkdir, unlink } from "node:fs/promises";
import type { Server } from "node:http";
import { connect } from "node:net";
import { dirname } from "node:path";
import { AdapterSdkError, AdapterSdkErrorCode } from "./errors.js";

/** Where serve() listens: a unix socket (preferred) or a TCP port on 127.0.0.1. */
export type ListenAddress = { kind: "unix"; path: string } | { kind: "tcp"; port: number };

/** The environment variable `powerstrip load` sets for an adapter image. */
export const SOCKET_ENV = "POWERSTRIP_ADAPTER_SOCKET";

/**
 * The socket from POWERSTRIP_ADAPTER_SOCKET when set (the runtime's word wins, so an adapter
 * written with `{ port }` for development still works when loaded), else `{ socket }`, else `{ port }`.
 */
export function resolveAddress(
  options: { socket?: string; port?: number },
  env = process.env,
): ListenAddress {
  const fromEnv = env[SOCKET_ENV];
  if (fromEnv !== undefined && fromEnv !== "") return { kind: "unix", path: stripScheme(fromEnv) };
  if (options.socket !== undefined) return { kind: "unix", path: stripScheme(options.socket) };
  if (options.port !== undefined) return { kind: "tcp", port: options.port };
  throw new AdapterSdkError(
    AdapterSdkErrorCode.NoAddress,
    `nowhere to listen: set ${SOCKET_ENV}, or pass serve(adapter, { socket: "/path.sock" }) or { port: 8080 }`,
  );
}

/** Listens and returns the address in the form `powerstrip load --url` takes. */
export async function listen(server: Server, address: ListenAddress, socketMode: number): Promise<string> {
  if (address.kind === "tcp") {
    await listening(server, { host: "127.0.0.1", port: address.port });
    const bound = server.address();
    return `http://127.0.0.1:${typeof bound === "object" && bound !== null ? bound.port : address.port}`;
  }
  await mkdir(dirname(address.path), { recursive: true });
  await removeStaleSocket(address.path);
  // Create the socket with its final mode at once: no window in which it is wider open.
  const previousUmask = process.umask(0o777 & ~socketMode);
  try {
    await listening(server, { path: address.path, exclusive: true });
  } finally {
    process.umask(previousUmask);
  }
  await chmod(address.path, socketMode);
  return `unix://${address.path}`;
}

function listening(
  server: Server,
  options: { host: string; port: number } | { path: string; exclusive: boolean },
) {
  return new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options, () => {
      server.off("error", reject);
      resolve();
    });
  });
}

/**
 * A crashed adapter leaves its socket file behind. Replace it only when it is a socket nobody
 * answers on; never delete a live socket or a file that is not a socket.
 */
async function removeStaleSocket(path: string): Promise<void> {
  const stats = await lstat(path).catch(() => null);
  if (stats === null) return;
  if (!stats.isSocket()) {
    throw new AdapterSdkError(
      AdapterSdkErrorCode.AddressInUse,
      `${path} exists and is not a socket; refusing to replace it`,
    );
  }
  const alive = await new Promise<boolean>((resolve) => {
    const probe = connect({ path });
    probe.once("connect", () => {
      probe.destroy();
      resolve(true);
    });
    probe.once("error", () => resolve(false));
  });
  if (alive)
    throw new AdapterSdkError(
      AdapterSdkErrorCode.AddressInUse,
      `unix://${path} is in use by a running process`,
    );
  await unlink(path);
}

function stripScheme(path: string): string {
  return path.startsWith("unix://") ? path.slice("unix://".length) : path;
}
