import { connect, type Socket } from "node:net";
import { type Address, formatAddress } from "./addresses.js";
import { ProxyError, ProxyErrorCode } from "./errors.js";

/** Whoever is using an upstream connection gets its events; an idle connection has no owner. */
export interface UpstreamOwner {
  onUpstreamData(chunk: Buffer): void;
  onUpstreamEnd(): void;
  onUpstreamClose(): void;
}

/** One connection to the engine. Its listeners are attached once and dispatch to the owner. */
export class UpstreamConnection {
  owner: UpstreamOwner | null = null;
  closed = false;

  constructor(
    readonly socket: Socket,
    private readonly onIdleClose: (connection: UpstreamConnection) => void,
  ) {
    socket.on("data", (chunk: Buffer) => {
      if (this.owner) this.owner.onUpstreamData(chunk);
      else socket.destroy(); // bytes on an idle connection: the engine is confused; drop it
    });
    socket.on("end", () => {
      if (this.owner) this.owner.onUpstreamEnd();
      else socket.destroy();
    });
    socket.on("error", () => {
      // 'close' always follows; the owner learns of the failure there.
    });
    socket.on("close", () => {
      this.closed = true;
      if (this.owner) this.owner.onUpstreamClose();
      else this.onIdleClose(this);
    });
  }
}

export interface UpstreamPoolOptions {
  /** Idle keep-alive connections kept for reuse. */
  maxIdle: number;
}

/**
 * Keep-alive connections to the Docker engine, reused last-in first-out so that the warmest
 * connection serves the next request and surplus ones age out.
 */
export class UpstreamPool {
  private readonly idle: UpstreamConnection[] = [];
  private readonly all = new Set<UpstreamConnection>();
  private destroyed = false;

  constructor(
    readonly address: Address,
    private readonly options: UpstreamPoolOptions,
  ) {}

  /** Hands out an idle connection, or opens one. The callback gets a ProxyError when none can be had. */
  acquire(callback: (error: ProxyError | null, connection: UpstreamConnection | null) => void): void {
    const reused = this.idle.pop();
    if (reused) {
      callback(null, reused);
      return;
    }
    const socket =
      this.address.kind === "unix"
        ? connect({ path: this.address.path, allowHalfOpen: true })
        : connect({ host: this.address.host, port: this.address.port, allowHalfOpen: true, noDelay: true });
    const onConnectError = (error: NodeJS.ErrnoException) => {
      callback(
        new ProxyError(
          ProxyErrorCode.UpstreamUnavailable,
          `powerstrip cannot reach the Docker engine at ${formatAddress(this.address)}: ${error.code ?? error.message}`,
          { cause: error },
        ),
        null,
      );
    };
    socket.once("error", onConnectError);
    socket.once("connect", () => {
      socket.off("error", onConnectError);
      const connection = new UpstreamConnection(socket, (c) => this.forget(c));
      this.all.add(connection);
      if (this.destroyed) socket.destroy();
      callback(null, connection);
    });
  }

  /** Returns a connection whose exchange ended cleanly; it stays open for the next request. */
  release(connection: UpstreamConnection): void {
    connection.owner = null;
    connection.socket.resume(); // it may have been paused for the last client's backpressure
    if (this.destroyed || connection.closed || this.idle.length >= this.options.maxIdle) {
      this.discard(connection);
      return;
    }
    this.idle.push(connection);
  }

  /** Closes a connection that cannot be reused (mid-message abort, upgrade, framing by close). */
  discard(connection: UpstreamConnection): void {
    connection.owner = null;
    connection.socket.destroy();
    this.forget(connection);
  }

  destroy(): void {
    this.destroyed = true;
    for (const connection of this.all) connection.socket.destroy();
    this.idle.length = 0;
  }

  private forget(connection: UpstreamConnection): void {
    this.all.delete(connection);
    const at = this.idle.indexOf(connection);
    if (at !== -1) this.idle.splice(at, 1);
  }
}
