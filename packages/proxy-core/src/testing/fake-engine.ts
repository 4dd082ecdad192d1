import { mkdtempSync, rmSync } from "node:fs";
import { connect, createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** A scripted stand-in for dockerd on a unix socket: each test says what it answers, byte for byte. */
export interface FakeEngine {
  readonly path: string;
  /** Every connection the proxy opened, in order. */
  readonly connections: Socket[];
  close(): Promise<void>;
}

export async function startFakeEngine(onConnection: (socket: Socket) => void): Promise<FakeEngine> {
  const dir = mkdtempSync(join(tmpdir(), "pst-fake-"));
  const path = join(dir, "engine.sock");
  const connections: Socket[] = [];
  const server: Server = createServer({ allowHalfOpen: true }, (socket) => {
    connections.push(socket);
    socket.on("error", () => {});
    onConnection(socket);
  });
  await new Promise<void>((resolve) => server.listen(path, resolve));
  return {
    path,
    connections,
    async close() {
      for (const socket of connections) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Reads from a socket until `predicate` holds for everything read so far (bounded by a deadline). */
export function readUntil(
  socket: Socket,
  predicate: (soFar: Buffer) => boolean,
  timeoutMs = 2000,
): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    let soFar = Buffer.alloc(0);
    const done = (error?: Error) => {
      clearTimeout(timer);
      socket.off("data", onData);
      socket.off("end", onEnd);
      if (error) reject(error);
      else resolve(soFar);
    };
    const onData = (chunk: Buffer) => {
      soFar = Buffer.concat([soFar, chunk]);
      if (predicate(soFar)) done();
    };
    const onEnd = () =>
      predicate(soFar)
        ? done()
        : done(new Error(`ended before expected; got ${JSON.stringify(soFar.toString())}`));
    const timer = setTimeout(
      () => done(new Error(`timed out; got ${JSON.stringify(soFar.toString("latin1").slice(0, 500))}`)),
      timeoutMs,
    );
    socket.on("data", onData);
    socket.on("end", onEnd);
    if (predicate(soFar)) done();
  });
}

export const contains = (text: string) => (soFar: Buffer) => soFar.includes(text);

/** Resolves when the socket has seen its peer's end (or closed). */
export function ended(socket: Socket, timeoutMs = 2000): Promise<void> {
  return new Promise((resolve, reject) => {
    if (socket.readableEnded || socket.destroyed) return resolve();
    const timer = setTimeout(() => reject(new Error("socket did not end")), timeoutMs);
    const finish = () => {
      clearTimeout(timer);
      resolve();
    };
    socket.once("end", finish);
    socket.once("close", finish);
    socket.resume();
  });
}

export function openClient(path: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ path, allowHalfOpen: true });
    socket.once("connect", () => resolve(socket));
    socket.once("error", reject);
  });
}
