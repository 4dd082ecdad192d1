import { connect, type Socket } from "node:net";
import { Waiters } from "./waiters.js";

/** One parsed HTTP/1.1 response, read off a raw connection. */
export interface RawResponse {
  httpVersion: string;
  status: number;
  statusText: string;
  /** Header names lowercased; repeated headers joined with ", ". */
  headers: Record<string, string>;
  body: Buffer;
}

export interface RawRequest {
  method: string;
  path: string;
  headers?: Record<string, string | number>;
  body?: string | Buffer;
}

const DEFAULT_WAIT_MS = 10_000;

/**
 * An HTTP/1.1 client connection with no HTTP library in the way, so tests control every byte:
 * keep-alive, HEAD, bad framing, and the raw stream after a 101.
 */
export class RawConnection {
  private buffered: Buffer = Buffer.alloc(0);
  private ended = false;
  private error: Error | undefined;
  private readonly waiters = new Waiters();

  private constructor(readonly socket: Socket) {
    socket.on("data", (chunk: Buffer) => {
      this.buffered = Buffer.concat([this.buffered, chunk]);
      this.waiters.wake();
    });
    socket.on("end", () => {
      this.ended = true;
      this.waiters.wake();
    });
    socket.on("error", (err) => {
      this.error = err;
      this.waiters.wake();
    });
    socket.on("close", () => {
      this.ended = true;
      this.waiters.wake();
    });
  }

  /** Connects with allowHalfOpen, so the test can end its side and keep reading. */
  static open(socketPath: string, timeoutMs = DEFAULT_WAIT_MS): Promise<RawConnection> {
    return new Promise((resolve, reject) => {
      const socket = connect({ path: socketPath, allowHalfOpen: true });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error(`connect to ${socketPath} timed out`));
      }, timeoutMs);
      socket.once("connect", () => {
        clearTimeout(timer);
        resolve(new RawConnection(socket));
      });
      socket.once("error", (err) => {
        clearTimeout(timer);
        reject(err);
      });
    });
  }

  /** Whether the peer has closed its side (or the socket is gone). */
  get peerEnded(): boolean {
    return this.ended;
  }

  write(data: string | Buffer): void {
    this.socket.write(data);
  }

  /** Writes a well-formed request (Host and Content-Length added when missing). */
  send(request: RawRequest): void {
    this.write(formatRequest(request));
  }

  /** Half-closes: the peer sees EOF, this side keeps reading. */
  end(): void {
    this.socket.end();
  }

  destroy(): void {
    this.socket.destroy();
  }

  /** Reads one response. `method` decides whether a body follows (HEAD has none). */
  async readResponse(method: string, timeoutMs = DEFAULT_WAIT_MS): Promise<RawResponse> {
    const deadline = Date.now() + timeoutMs;
    const head = await this.readUntil(Buffer.from("\r\n\r\n"), deadline);
    const [statusLine = "", ...headerLines] = head.toString("latin1").split("\r\n");
    const match = /^(HTTP\/\d\.\d) (\d{3}) ?(.*)$/.exec(statusLine);
    if (!match) throw new Error(`not an HTTP status line: ${JSON.stringify(statusLine)}`);
    const headers: Record<string, string> = {};
    for (const line of headerLines) {
      if (line === "") continue;
      const colon = line.indexOf(":");
      const name = line.slice(0, colon).trim().toLowerCase();
      const value = line.slice(colon + 1).trim();
      headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`;
    }
    const status = Number(match[2]);
    const response = { httpVersion: match[1]!, status, statusText: match[3] ?? "", headers };
    return { ...response, body: await this.readBody(method, status, headers, deadline) };
  }

  /** Reads exactly n bytes. */
  async readBytes(n: number, timeoutMs = DEFAULT_WAIT_MS): Promise<Buffer> {
    await this.waitUntil(() => this.buffered.length >= n, Date.now() + timeoutMs, `${n} bytes`);
    return this.take(n);
  }

  /** Reads everything until the peer ends its side. */
  async readToEnd(timeoutMs = DEFAULT_WAIT_MS): Promise<Buffer> {
    await this.waitUntil(() => this.ended, Date.now() + timeoutMs, "the end of the stream");
    return this.take(this.buffered.length);
  }

  private async readBody(
    method: string,
    status: number,
    headers: Record<string, string>,
    deadline: number,
  ): Promise<Buffer> {
    // RFC 9112 §6.3: these responses never carry a body, whatever their headers say.
    if (method === "HEAD" || status < 200 || status === 204 || status === 304) return Buffer.alloc(0);
    if (/chunked/i.test(headers["transfer-encoding"] ?? "")) return this.readChunked(deadline);
    const length = headers["content-length"];
    if (length !== undefined) {
      const n = Number(length);
      await this.waitUntil(() => this.buffered.length >= n, deadline, `a ${n}-byte body`);
      return this.take(n);
    }
    await this.waitUntil(() => this.ended, deadline, "a close-delimited body");
    return this.take(this.buffered.length);
  }

  private async readChunked(deadline: number): Promise<Buffer> {
    const chunks: Buffer[] = [];
    for (;;) {
      const sizeLine = (await this.readUntil(Buffer.from("\r\n"), deadline)).toString("latin1");
      const size = Number.parseInt(sizeLine.split(";")[0]!.trim(), 16);
      if (Number.isNaN(size)) throw new Error(`bad chunk size line: ${JSON.stringify(sizeLine)}`);
      if (size === 0) break;
      await this.waitUntil(() => this.buffered.length >= size + 2, deadline, `a ${size}-byte chunk`);
      chunks.push(this.take(size));
      this.take(2);
    }
    // Trailers, if any, end with an empty line.
    while ((await this.readUntil(Buffer.from("\r\n"), deadline)).length > 0) {}
    return Buffer.concat(chunks);
  }

  /** Returns the bytes before `delimiter` and consumes the delimiter. */
  private async readUntil(delimiter: Buffer, deadline: number): Promise<Buffer> {
    await this.waitUntil(
      () => this.buffered.includes(delimiter),
      deadline,
      JSON.stringify(delimiter.toString()),
    );
    const at = this.buffered.indexOf(delimiter);
    const before = this.take(at);
    this.take(delimiter.length);
    return before;
  }

  private take(n: number): Buffer {
    const out = this.buffered.subarray(0, n);
    this.buffered = this.buffered.subarray(n);
    return Buffer.from(out);
  }

  private waitUntil(ready: () => boolean, deadline: number, what: string): Promise<void> {
    const seen = (): string =>
      `${this.buffered.length} bytes buffered: ${JSON.stringify(this.buffered.subarray(0, 300).toString("latin1"))}`;
    return this.waiters
      .until(
        () => {
          if (ready()) return true;
          if (this.error) throw new Error(`socket error waiting for ${what}: ${this.error}`);
          if (this.ended) throw new Error(`peer closed while waiting for ${what}; ${seen()}`);
          return undefined;
        },
        deadline - Date.now(),
        () => new Error(`timed out waiting for ${what}; ${seen()}`),
      )
      .then(() => {});
  }
}

/** Serialises a request; headers given by the caller win, so tests can send bad framing on purpose. */
export function formatRequest({ method, path, headers = {}, body }: RawRequest): string | Buffer {
  const names = new Set(Object.keys(headers).map((h) => h.toLowerCase()));
  const all: Array<[string, string | number]> = [];
  if (!names.has("host")) all.push(["Host", "docker"]);
  all.push(...Object.entries(headers));
  if (body !== undefined && !names.has("content-length") && !names.has("transfer-encoding")) {
    all.push(["Content-Length", Buffer.byteLength(body)]);
  }
  const head = `${method} ${path} HTTP/1.1\r\n${all.map(([k, v]) => `${k}: ${v}\r\n`).join("")}\r\n`;
  return body === undefined ? head : Buffer.concat([Buffer.from(head, "latin1"), Buffer.from(body)]);
}
