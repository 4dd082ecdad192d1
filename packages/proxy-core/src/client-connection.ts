import type { Socket } from "node:net";
import { dockerErrorResponse } from "./docker-error.js";
import { ProxyError, ProxyErrorCode } from "./errors.js";
import { type BodyTracker, trackBody } from "./http/body-tracker.js";
import { type Framing, requestFraming, responseFraming } from "./http/framing.js";
import {
  findHeadEnd,
  headerValue,
  MAX_HEAD_BYTES,
  parseRequestHead,
  parseResponseHead,
  type RequestHead,
  type ResponseHead,
  serializeHead,
} from "./http/head.js";
import type { UpstreamConnection, UpstreamOwner, UpstreamPool } from "./upstream-pool.js";

/** What a client connection needs from the proxy around it. */
export interface ConnectionContext {
  pool: UpstreamPool;
  onClosed(connection: ClientConnection): void;
}

/** Where a connection is in its current exchange. */
enum Phase {
  /** Between exchanges, waiting for (the rest of) a request head. */
  ReadingHead,
  /** A request is parsed; waiting for an upstream connection. */
  Connecting,
  /** The request went upstream; the response (head, then body) is on its way back. */
  Exchanging,
  /** An upgrade or a hijacked stream: raw bytes both ways until both sides close. */
  Tunnel,
  Closed,
}

/** Media types of Docker's hijacked attach/exec streams, answered 200 without framing on old APIs. */
const HIJACKED_STREAM_TYPES = [
  "application/vnd.docker.raw-stream",
  "application/vnd.docker.multiplexed-stream",
];

/**
 * One client connection. Requests on it are served one at a time, each as a sequence of small
 * steps: read the request head → check its framing → get an upstream connection → send the head
 * → stream the request body → read the response head → send it → stream the response body →
 * finish (reuse or close). Upgrades and hijacked streams leave that loop for a raw tunnel.
 *
 * Nothing here buffers a body: bytes are forwarded as they arrive, with backpressure, and only
 * heads and chunk-size lines are read.
 */
export class ClientConnection implements UpstreamOwner {
  private phase = Phase.ReadingHead;
  /** Bytes read from the client that no step has consumed yet (a partial head, a pipelined request). */
  private pending: Buffer | null = null;
  private clientEnded = false;

  // The current exchange.
  private request: RequestHead | null = null;
  private requestBody: BodyTracker | null = null;
  private upstream: UpstreamConnection | null = null;
  private responseHeadBytes: Buffer | null = null;
  private responseBody: BodyTracker | null = null;
  private responseStarted = false;
  private closeAfterResponse = false;

  constructor(
    private readonly client: Socket,
    private readonly context: ConnectionContext,
  ) {
    client.on("data", (chunk: Buffer) => this.onClientData(chunk));
    client.on("end", () => this.onClientEnd());
    client.on("error", () => {
      // 'close' follows and tears the exchange down.
    });
    client.on("close", () => this.onClientClose());
  }

  destroy(): void {
    this.client.destroy();
  }

  // ── Client side ──────────────────────────────────────────────────────────────────────────────

  private onClientData(chunk: Buffer): void {
    if (this.phase === Phase.Tunnel) {
      this.relay(chunk, this.upstream!.socket, this.client);
      return;
    }
    if (this.requestBody !== null && !this.requestBody.done && this.upstream !== null) {
      this.forwardRequestBody(chunk);
      return;
    }
    this.pending = this.pending === null ? chunk : Buffer.concat([this.pending, chunk]);
    if (this.phase === Phase.ReadingHead) this.readRequestHead();
    else if (this.pending.length > MAX_HEAD_BYTES) this.client.pause(); // a pipelining client: hold it off
  }

  private onClientEnd(): void {
    this.clientEnded = true;
    if (this.phase === Phase.Tunnel) {
      this.upstream?.socket.end();
      return;
    }
    if (this.phase === Phase.ReadingHead) {
      this.client.end();
      return;
    }
    if (this.requestBody !== null && !this.requestBody.done) {
      // The client hung up halfway through its request body: nothing sensible can follow.
      this.abort();
      return;
    }
    // Pass the half-close on, as a direct client's would reach the engine: Docker ends a
    // follow stream (logs -f, events) when its client goes. What response remains is delivered.
    this.upstream?.socket.end();
  }

  private onClientClose(): void {
    const wasOpen = this.phase !== Phase.Closed;
    this.phase = Phase.Closed;
    if (this.upstream !== null) {
      // A client abort tears the upstream request down with it.
      this.context.pool.discard(this.upstream);
      this.upstream = null;
    }
    if (wasOpen) this.context.onClosed(this);
  }

  // ── Step 1: read the request head ───────────────────────────────────────────────────────────

  private readRequestHead(): void {
    const buffered = this.pending;
    if (buffered === null) {
      this.client.resume();
      return;
    }
    const end = findHeadEnd(buffered);
    if (end === -1) {
      if (buffered.length > MAX_HEAD_BYTES) {
        this.refuse(new ProxyError(ProxyErrorCode.HeadTooLarge, "request head too large"));
        return;
      }
      this.client.resume();
      return;
    }
    if (end > MAX_HEAD_BYTES) {
      this.refuse(new ProxyError(ProxyErrorCode.HeadTooLarge, "request head too large"));
      return;
    }
    this.pending = end === buffered.length ? null : buffered.subarray(end);
    let head: RequestHead;
    let framing: Framing;
    try {
      head = parseRequestHead(buffered.subarray(0, end));
      framing = requestFraming(head);
    } catch (error) {
      this.refuse(error);
      return;
    }
    this.startExchange(head, framing);
  }

  // ── Step 2: get an upstream connection ──────────────────────────────────────────────────────

  private startExchange(head: RequestHead, framing: Framing): void {
    this.request = head;
    this.requestBody = trackBody(framing);
    this.closeAfterResponse = clientWantsClose(head);
    this.phase = Phase.Connecting;
    this.context.pool.acquire((error, connection) => {
      if (this.phase === Phase.Closed) {
        if (connection) this.context.pool.release(connection);
        return;
      }
      if (error || !connection) {
        this.failBeforeResponse(error ?? new ProxyError(ProxyErrorCode.UpstreamUnavailable, "no upstream"));
        return;
      }
      this.sendRequestHead(connection);
    });
  }

  // ── Step 3: send the request head, then whatever body bytes are already here ────────────────

  private sendRequestHead(connection: UpstreamConnection): void {
    const head = this.request!;
    connection.owner = this;
    this.upstream = connection;
    this.phase = Phase.Exchanging;
    const socket = connection.socket;
    socket.cork();
    socket.write(upstreamRequestHead(head));
    const early = this.pending;
    if (early !== null && !this.requestBody!.done) {
      this.pending = null;
      this.forwardRequestBody(early);
    }
    socket.uncork();
    if (this.clientEnded && this.requestBody!.done) socket.end();
  }

  // ── Step 4: stream the request body ─────────────────────────────────────────────────────────

  private forwardRequestBody(chunk: Buffer): void {
    const body = this.requestBody!;
    let taken: number;
    try {
      taken = body.consume(chunk, 0);
    } catch (error) {
      this.failRequestBody(error);
      return;
    }
    const socket = this.upstream!.socket;
    if (taken > 0) {
      const piece = taken === chunk.length ? chunk : chunk.subarray(0, taken);
      if (!socket.write(piece)) {
        this.client.pause();
        socket.once("drain", () => {
          if (this.phase === Phase.Exchanging && !body.done) this.client.resume();
        });
      }
    }
    if (body.done) {
      if (taken < chunk.length) {
        // The next pipelined request: keep it until this exchange is over.
        const rest = chunk.subarray(taken);
        this.pending = this.pending === null ? rest : Buffer.concat([this.pending, rest]);
      }
    }
  }

  // ── Step 5: read the response head ──────────────────────────────────────────────────────────

  onUpstreamData(chunk: Buffer): void {
    if (this.phase === Phase.Tunnel) {
      this.relay(chunk, this.client, this.upstream!.socket);
      return;
    }
    if (this.responseBody !== null) {
      this.forwardResponseBody(chunk);
      return;
    }
    const buffered = this.responseHeadBytes === null ? chunk : Buffer.concat([this.responseHeadBytes, chunk]);
    this.readResponseHead(buffered);
  }

  private readResponseHead(buffered: Buffer): void {
    const end = findHeadEnd(buffered);
    if (end === -1) {
      if (buffered.length > MAX_HEAD_BYTES) {
        this.failBeforeResponse(
          new ProxyError(ProxyErrorCode.BadUpstreamResponse, "response head too large"),
        );
        return;
      }
      this.responseHeadBytes = buffered;
      return;
    }
    this.responseHeadBytes = null;
    let head: ResponseHead;
    let framing: Framing;
    try {
      head = parseResponseHead(buffered.subarray(0, end));
      framing = responseFraming(this.request!.method, head);
    } catch (error) {
      this.failBeforeResponse(error);
      return;
    }
    const rest = end === buffered.length ? null : buffered.subarray(end);
    if (head.status === 101) {
      this.openTunnel(head.raw, rest);
      return;
    }
    if (head.status < 200) {
      // 100 Continue and friends: relay, then the real response head follows.
      this.client.write(head.raw);
      if (rest !== null) this.readResponseHead(rest);
      return;
    }
    if (framing.kind === "close" && isHijackedStream(head)) {
      this.openTunnel(head.raw, rest);
      return;
    }
    this.sendResponseHead(head, framing);
    if (rest !== null) this.forwardResponseBody(rest);
    else if (this.responseBody!.done) this.finish();
  }

  // ── Step 6: send the response head ──────────────────────────────────────────────────────────

  private sendResponseHead(head: ResponseHead, framing: Framing): void {
    // The client must close when the body ends by close, or when the engine answered before it
    // had the whole request body (what is left of it can no longer be told from a next request).
    if (framing.kind === "close" || !this.requestBody!.done) this.closeAfterResponse = true;
    this.responseBody = trackBody(framing);
    this.responseStarted = true;
    this.client.write(clientResponseHead(head, this.closeAfterResponse));
  }

  // ── Step 7: stream the response body ────────────────────────────────────────────────────────

  private forwardResponseBody(chunk: Buffer): void {
    const body = this.responseBody!;
    let taken: number;
    try {
      taken = body.consume(chunk, 0);
    } catch {
      // The engine broke its own framing: the client cannot be told more than a cut connection.
      this.abort();
      return;
    }
    if (taken > 0) {
      const piece = taken === chunk.length ? chunk : chunk.subarray(0, taken);
      this.relay(piece, this.client, this.upstream!.socket);
    }
    if (body.done) {
      // Bytes past the end of a response mean the connection cannot be trusted for another.
      this.finish(taken === chunk.length);
    }
  }

  onUpstreamEnd(): void {
    if (this.phase === Phase.Tunnel) {
      this.client.end();
      return;
    }
    this.onUpstreamGone();
  }

  onUpstreamClose(): void {
    if (this.phase === Phase.Tunnel) {
      this.client.destroy();
      return;
    }
    this.onUpstreamGone();
  }

  private onUpstreamGone(): void {
    const connection = this.upstream;
    if (connection === null) return;
    this.context.pool.discard(connection);
    this.upstream = null;
    if (this.responseBody?.endsAtClose) {
      this.finish(); // a body framed by the connection closing has ended
    } else if (this.responseStarted) {
      this.abort(); // cut mid-response: the client must see a cut, not a short success
    } else {
      this.failBeforeResponse(
        new ProxyError(
          ProxyErrorCode.UpstreamFailed,
          "the Docker engine closed the connection before answering",
        ),
      );
    }
  }

  // ── Step 8: finish the exchange ─────────────────────────────────────────────────────────────

  private finish(upstreamReusable = true): void {
    const connection = this.upstream;
    this.upstream = null;
    if (connection !== null) {
      const reusable = upstreamReusable && this.requestBody!.done && !this.clientEnded && !connection.closed;
      if (reusable) this.context.pool.release(connection);
      else this.context.pool.discard(connection);
    }
    const mustClose = this.closeAfterResponse || this.clientEnded;
    this.request = null;
    this.requestBody = null;
    this.responseBody = null;
    this.responseStarted = false;
    this.closeAfterResponse = false;
    if (mustClose) {
      this.phase = Phase.Closed;
      this.client.end();
      this.context.onClosed(this);
      return;
    }
    this.phase = Phase.ReadingHead;
    this.readRequestHead();
  }

  // ── Upgrades and hijacked streams ───────────────────────────────────────────────────────────

  private openTunnel(responseHead: Buffer, upstreamRest: Buffer | null): void {
    this.phase = Phase.Tunnel;
    this.responseStarted = true;
    const upstream = this.upstream!.socket;
    this.client.write(responseHead);
    if (upstreamRest !== null) this.client.write(upstreamRest);
    // Bytes the client sent ahead of the switch belong to the new protocol.
    if (this.pending !== null) {
      upstream.write(this.pending);
      this.pending = null;
    }
    if (this.clientEnded) upstream.end();
    this.client.resume();
  }

  // ── Shared pieces ───────────────────────────────────────────────────────────────────────────

  /** Writes with backpressure: a full destination pauses the source until it drains. */
  private relay(chunk: Buffer, destination: Socket, source: Socket): void {
    if (!destination.write(chunk)) {
      source.pause();
      destination.once("drain", () => {
        // Only resume a socket that still serves this connection (an upstream may be pooled by now).
        if (this.phase !== Phase.Closed && (source === this.client || source === this.upstream?.socket)) {
          source.resume();
        }
      });
    }
  }

  /** A request we will not forward: answer it in Docker's error shape and close. */
  private refuse(error: unknown): void {
    const proxyError =
      error instanceof ProxyError
        ? error
        : new ProxyError(ProxyErrorCode.BadRequest, String(error), { cause: error });
    this.phase = Phase.Closed;
    this.client.end(dockerErrorResponse(proxyError.status, proxyError.message, { close: true }));
    this.context.onClosed(this);
  }

  /** The exchange failed before any response byte reached the client: answer with the reason. */
  private failBeforeResponse(error: unknown): void {
    if (this.upstream !== null) {
      this.context.pool.discard(this.upstream);
      this.upstream = null;
    }
    if (this.responseStarted) {
      this.abort();
      return;
    }
    const proxyError =
      error instanceof ProxyError
        ? error
        : new ProxyError(ProxyErrorCode.UpstreamFailed, String(error), { cause: error });
    // Unread request body bytes would be mistaken for a next request: close unless there are none.
    const close =
      this.closeAfterResponse ||
      this.clientEnded ||
      !(this.requestBody?.done ?? true) ||
      this.pending !== null;
    this.client.write(dockerErrorResponse(proxyError.status, proxyError.message, { close }));
    this.responseStarted = true;
    this.closeAfterResponse = close;
    this.requestBody = trackBody({ kind: "none" });
    this.finish(false);
  }

  private failRequestBody(error: unknown): void {
    if (this.responseStarted) {
      this.abort();
      return;
    }
    this.failBeforeResponse(error);
  }

  /** Cuts both sides at once. */
  private abort(): void {
    if (this.upstream !== null) {
      this.context.pool.discard(this.upstream);
      this.upstream = null;
    }
    this.client.destroy();
  }
}

/** HTTP/1.0 closes by default; either version closes when the client says so. */
function clientWantsClose(head: RequestHead): boolean {
  if (head.connectionTokens.includes("close")) return true;
  return head.minorVersion === 0 && !head.connectionTokens.includes("keep-alive");
}

function isUpgradeRequest(head: RequestHead): boolean {
  return head.upgrade !== null && head.connectionTokens.includes("upgrade");
}

/** The head as the engine should see it: hop-by-hop headers dropped, an upgrade kept as asked. */
function upstreamRequestHead(head: RequestHead): Buffer {
  if (!head.hasHopByHop && head.minorVersion === 1) return head.raw;
  const extra = isUpgradeRequest(head) ? ["Connection: Upgrade", `Upgrade: ${head.upgrade}`] : [];
  return serializeHead(`${head.method} ${head.target} HTTP/1.1`, head, extra);
}

function clientResponseHead(head: ResponseHead, close: boolean): Buffer {
  if (!head.hasHopByHop && !close && head.minorVersion === 1) return head.raw;
  return serializeHead(
    `HTTP/1.1 ${head.status} ${head.statusText}`,
    head,
    close ? ["Connection: close"] : [],
  );
}

function isHijackedStream(head: ResponseHead): boolean {
  const type = headerValue(head.headers, "content-type");
  return type !== undefined && HIJACKED_STREAM_TYPES.some((t) => type.startsWith(t));
}
