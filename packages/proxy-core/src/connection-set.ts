import type { Socket } from "node:net";
import type { ClientConnection } from "./client-connection.js";

/** How a drain ended. */
export interface DrainResult {
  /** Connections still busy at the bound (tunnels, follow streams, slow exchanges), cut there. */
  cut: number;
  /** How long the drain took, in ms. */
  elapsedMs: number;
}

/**
 * The proxy's client connections, and the two ways of letting them go: cut them all at once, or
 * drain them (shutdown) — no new exchanges, the ones in flight finish, then everything closes.
 */
export class ConnectionSet {
  private readonly connections = new Set<ClientConnection>();
  /** Every client socket until it closes, including those whose connection is done but not yet flushed. */
  private readonly sockets = new Set<Socket>();
  private draining = false;
  private wake: (() => void) | null = null;

  add(socket: Socket, connection: ClientConnection): void {
    this.connections.add(connection);
    this.sockets.add(socket);
    socket.once("close", () => {
      this.sockets.delete(socket);
      this.wake?.();
    });
    // Our side ended and every byte reached the kernel: nothing of the response can be lost now.
    socket.once("finish", () => this.wake?.());
    // Accepted while the listeners were closing: it gets no exchange it could not finish.
    if (this.draining) connection.drain();
  }

  /** The connection's exchanges are over (ClientConnection's onClosed). */
  closed(connection: ClientConnection): void {
    this.connections.delete(connection);
    this.wake?.();
  }

  /** Cuts every connection now. */
  destroyAll(): void {
    for (const connection of this.connections) connection.destroy();
    for (const socket of this.sockets) socket.destroy();
    this.connections.clear();
    this.sockets.clear();
  }

  /**
   * Idle connections close at once; those with an exchange in flight close when it is done.
   * Resolves when every connection has closed and flushed, or at `timeoutMs`, when whatever is
   * left (tunnels, follow streams, slow exchanges) is cut.
   */
  drain(timeoutMs: number): Promise<DrainResult> {
    const started = Date.now();
    this.draining = true;
    for (const connection of this.connections) connection.drain();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.wake = null;
        const cut = this.connections.size;
        // What is left past the bound is cut; a socket whose response is all sent but whose
        // client keeps its end open is closed too.
        this.destroyAll();
        resolve({ cut, elapsedMs: Date.now() - started });
      };
      const timer = setTimeout(done, timeoutMs);
      this.wake = () => {
        if (this.settled()) done();
      };
      this.wake();
    });
  }

  private settled(): boolean {
    if (this.connections.size > 0) return false;
    for (const socket of this.sockets) if (!socket.destroyed && !socket.writableFinished) return false;
    return true;
  }
}
