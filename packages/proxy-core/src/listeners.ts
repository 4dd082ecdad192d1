import { chmod, chown, lstat, mkdir, readFile, unlink } from "node:fs/promises";
import { connect, createServer, type Server, type Socket } from "node:net";
import { type Address, formatAddress, isLoopbackHost } from "./addresses.js";
import { markTcpClient } from "./client-identity.js";
import { ProxyError, ProxyErrorCode } from "./errors.js";
import { createTlsServer, type TlsListenOptions, verifiesClients } from "./tls.js";

export interface ListenOptions {
  /** Permission bits of unix sockets; 0o660 lets the owning group in, like docker.sock. */
  socketMode: number;
  /** Group owning unix sockets: a name or gid; undefined keeps the process's group. */
  socketGroup: string | number | undefined;
  /** TLS for every tcp:// listener (unix sockets are unaffected). With a CA, clients must present a certificate it issued. */
  tls?: TlsListenOptions;
}

/** A listening socket and how to take it down again. */
export interface Listener {
  readonly address: string;
  close(): Promise<void>;
}

export async function listen(
  address: Address,
  options: ListenOptions,
  onConnection: (socket: Socket) => void,
): Promise<Listener> {
  if (address.kind === "unix") {
    const server = createServer({ allowHalfOpen: true, noDelay: true, pauseOnConnect: false }, onConnection);
    return listenUnix(server, address.path, options);
  }
  checkTcpExposure(address.host, address.port, options.tls);
  const onTcpConnection = (socket: Socket) => {
    markTcpClient(socket);
    onConnection(socket);
  };
  if (options.tls === undefined) {
    const server = createServer(
      { allowHalfOpen: true, noDelay: true, pauseOnConnect: false },
      onTcpConnection,
    );
    return listenTcp(server, address.host, address.port);
  }
  const tls = createTlsServer(options.tls, onTcpConnection);
  return listenTcp(tls.server, address.host, address.port, tls.dropHandshakes);
}

/**
 * Whoever reaches the Docker API owns the host: a TCP listener beyond loopback must verify its
 * clients' certificates (`--tlsverify`). Plain TCP, or TLS without a CA, stays on loopback.
 */
function checkTcpExposure(host: string, port: number, tls: TlsListenOptions | undefined): void {
  if (isLoopbackHost(host) || (tls !== undefined && verifiesClients(tls))) return;
  const what =
    tls === undefined ? "without TLS client verification" : "with TLS but without client verification";
  throw new ProxyError(
    ProxyErrorCode.InsecureListen,
    `refusing to listen on tcp://${host}:${port} ${what} (--tlsverify --tlscacert CA); plain TCP is allowed on loopback only (127.0.0.1, ::1)`,
  );
}

async function listenTcp(
  server: Server,
  host: string,
  port: number,
  beforeClose: () => void = () => {},
): Promise<Listener> {
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen({ host, port }, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const bound = server.address();
  const actualPort = typeof bound === "object" && bound !== null ? bound.port : port;
  return {
    address: formatAddress({ kind: "tcp", host, port: actualPort }),
    close: () => {
      const closed = closeServer(server);
      beforeClose();
      return closed;
    },
  };
}

async function listenUnix(server: Server, path: string, options: ListenOptions): Promise<Listener> {
  await mkdir(dirnameOf(path), { recursive: true, mode: 0o755 });
  await removeStaleSocket(path);
  const gid = options.socketGroup === undefined ? undefined : await resolveGroupId(options.socketGroup);
  // Create the socket with its final mode at once: no window in which it is wider open.
  const previousUmask = process.umask(0o777 & ~options.socketMode);
  try {
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen({ path, exclusive: true }, () => {
        server.off("error", reject);
        resolve();
      });
    });
  } catch (error) {
    throw translateListenError(error, path);
  } finally {
    process.umask(previousUmask);
  }
  await chmod(path, options.socketMode);
  if (gid !== undefined) await chown(path, process.getuid?.() ?? 0, gid);
  return {
    address: `unix://${path}`,
    close: async () => {
      await closeServer(server);
      await unlink(path).catch(() => {});
    },
  };
}

function translateListenError(error: unknown, path: string): unknown {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === "EADDRINUSE") {
    return new ProxyError(ProxyErrorCode.AddressInUse, `unix://${path} is already in use`, { cause: error });
  }
  return error;
}

/**
 * After a crash our socket file is left behind. Replace it only when it is a socket nobody
 * answers on; never delete a live socket or a file that is not a socket.
 */
async function removeStaleSocket(path: string): Promise<void> {
  const stats = await lstat(path).catch(() => null);
  if (stats === null) return;
  if (!stats.isSocket()) {
    throw new ProxyError(
      ProxyErrorCode.AddressInUse,
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
  if (alive) {
    throw new ProxyError(
      ProxyErrorCode.AddressInUse,
      `unix://${path} is already in use by a running process`,
    );
  }
  await unlink(path);
}

/** Resolves a group name through /etc/group (Node has no getgrnam); numbers pass through. */
export async function resolveGroupId(group: string | number): Promise<number> {
  if (typeof group === "number") return group;
  if (/^\d+$/.test(group)) return Number(group);
  const text = await readFile("/etc/group", "utf8").catch(() => "");
  for (const line of text.split("\n")) {
    const [name, , gid] = line.split(":");
    if (name === group && gid !== undefined) return Number(gid);
  }
  throw new ProxyError(ProxyErrorCode.InvalidAddress, `socket group ${JSON.stringify(group)} does not exist`);
}

/** The default socket group: `docker` when the host has one, as docker.sock does. */
export async function defaultSocketGroup(): Promise<string | undefined> {
  try {
    await resolveGroupId("docker");
    return "docker";
  } catch {
    return undefined;
  }
}

function dirnameOf(path: string): string {
  const at = path.lastIndexOf("/");
  return at <= 0 ? "/" : path.slice(0, at);
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}
