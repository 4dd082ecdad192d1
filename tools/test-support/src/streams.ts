import { Waiters } from "./waiters.js";

/** Bounded waits on streams: every wait in an engine test ends, with a message saying what never came. */

/** Rejects with `what` if `promise` has not settled within `ms`. */
export async function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Collects everything a readable emits, so a test can wait for content and for the end. */
export class StreamCollector {
  private chunks: Buffer[] = [];
  private done = false;
  private failure: Error | undefined;
  private readonly waiters = new Waiters();

  constructor(stream: NodeJS.ReadableStream) {
    stream.on("data", (chunk: Buffer | string) => {
      this.chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk));
      this.waiters.wake();
    });
    stream.on("end", () => this.finish());
    stream.on("close", () => this.finish());
    stream.on("error", (err: Error) => {
      this.failure = err;
      this.finish();
    });
  }

  bytes(): Buffer {
    return Buffer.concat(this.chunks);
  }

  get ended(): boolean {
    return this.done;
  }

  /** Resolves with all bytes so far once `ready` holds; rejects on timeout or if the stream ends first. */
  waitFor(ready: (bytes: Buffer) => boolean, ms: number, what: string): Promise<Buffer> {
    return this.waiters.until(
      () => {
        const bytes = this.bytes();
        if (ready(bytes)) return bytes;
        if (this.failure) throw new Error(`stream failed (${this.failure}) before ${this.describe(what)}`);
        if (this.done) throw new Error(`stream ended before ${this.describe(what)}`);
        return undefined;
      },
      ms,
      () => new Error(`timed out after ${ms} ms waiting for ${this.describe(what)}`),
    );
  }

  /** Resolves with all bytes once the stream has ended (an error ends it too). */
  waitForEnd(ms: number): Promise<Buffer> {
    return this.waiters.until(
      () => (this.done ? this.bytes() : undefined),
      ms,
      () => new Error(`timed out after ${ms} ms waiting for ${this.describe("the end of the stream")}`),
    );
  }

  private describe(what: string): string {
    return `${what}; got ${JSON.stringify(this.bytes().toString("latin1").slice(-500))}`;
  }

  private finish(): void {
    this.done = true;
    this.waiters.wake();
  }
}

/** Docker's multiplexed stream (non-TTY attach, logs, exec): 8-byte headers [stream, 0, 0, 0, size BE32]. */
export interface Demuxed {
  stdout: Buffer;
  stderr: Buffer;
  /** Bytes of a frame not yet complete. */
  rest: Buffer;
}

export function demux(bytes: Buffer): Demuxed {
  const stdout: Buffer[] = [];
  const stderr: Buffer[] = [];
  let offset = 0;
  while (offset + 8 <= bytes.length) {
    const size = bytes.readUInt32BE(offset + 4);
    if (offset + 8 + size > bytes.length) break;
    const payload = bytes.subarray(offset + 8, offset + 8 + size);
    if (bytes[offset] === 2) stderr.push(payload);
    else stdout.push(payload);
    offset += 8 + size;
  }
  return { stdout: Buffer.concat(stdout), stderr: Buffer.concat(stderr), rest: bytes.subarray(offset) };
}
