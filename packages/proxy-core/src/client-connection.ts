import { randomUUID } from "node:crypto";
import { STATUS_CODES } from "node:http";
import type { Socket } from "node:net";
import { exceedsJsonDepth, MAX_JSON_DEPTH } from "@powerstrip/protocol";
import { type ClientIdentity, identifyClient } from "./client-identity.js";
import { dockerErrorResponse } from "./docker-error.js";
import { ProxyError, ProxyErrorCode } from "./errors.js";
import { addWarnings, carriesWarnings } from "./hooks/client-warnings.js";
import type { HookedRequest, HookedResponse } from "./hooks/hooked-request.js";
import {
  hookedRequestFrom,
  hookedResponseFrom,
  hookedUpstreamHead,
  isOrdinaryResponse,
  parseJsonBody,
  planRequestBody,
  rewrittenResponse,
} from "./hooks/hooked-steps.js";
import type { HookChain, HookRegistry } from "./hooks/registry.js";
import { type ChainContext, runPostHooks, runPreHooks } from "./hooks/run-chain.js";
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
import type { ExchangeRecord, Observers } from "./observe/observer.js";
import type { UpstreamConnection, UpstreamOwner, UpstreamPool } from "./upstream-pool.js";

/** What a client connection needs from the proxy around it. */
export interface ConnectionContext {
  pool: UpstreamPool;
  hooks: HookRegistry;
  /** Largest request or response body read whole for hooks. */
  maxBodyBytes: number;
  onClosed(connection: ClientConnection): void;
  /** Who watches the data path (trace, metrics, logs); checked by flag before anything is recorded. */
  observers: Observers;
}

/** A response body being read whole: the bytes as they came (`raw`) and its payload. */
interface ResponseCollect {
  head: ResponseHead;
  framing: Framing;
  /** The post-hooks need the body (else it is read for pre-hook warnings alone). */
  forHooks: boolean;
  raw: Buffer[];
  payload: Buffer[];
  size: number;
}

/** Where a connection is in its current exchange. */
enum Phase {
  /** Between exchanges, waiting for (the rest of) a request head. */
  ReadingHead,
  /** A hooked request's body is being read whole for its hooks. */
  CollectingBody,
  /** A hooked request is with its pre-hooks. */
  RunningHooks,
  /** A request is parsed; waiting for an upstream connection. */
  Connecting,
  /** The request went upstream; the response (head, then body) is on its way back. */
  Exchanging,
  /** An upgrade or a hijacked stream: raw bytes both ways until both sides close. */
  Tunnel,
  Closed,
}

/**
 * Bytes a destination may hold queued before its source is paused. Pausing at Node's 16 KiB
 * default stops and restarts reading on every 64 KiB read; a wider window keeps both sockets
 * busy while bounding memory per stream.
 */
const RELAY_WINDOW_BYTES = 1024 * 1024;

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
 * Unhooked exchanges buffer no body: bytes are forwarded as they arrive, with backpressure, and
 * only heads and chunk-size lines are read. Hooked ones read a JSON request body whole when a hook
 * needs it, and a JSON response body when a post-hook needs it or pre-hook warnings go into it;
 * each held body is bounded by `maxBodyBytes` (a larger request is refused with 413, a larger
 * response streams on with its hooks seeing the head only).
 */
export class ClientConnection implements UpstreamOwner {
  private phase = Phase.ReadingHead;
  /** Bytes read from the client that no step has consumed yet (a partial head, a pipelined request). */
  private pending: Buffer | null = null;
  private clientEnded = false;
  /** The proxy is shutting down: the exchange in flight is the connection's last. */
  private draining = false;

  // The current exchange.
  private request: RequestHead | null = null;
  private requestBody: BodyTracker | null = null;
  private upstream: UpstreamConnection | null = null;
  private responseHeadBytes: Buffer | null = null;
  private responseBody: BodyTracker | null = null;
  private responseStarted = false;
  private closeAfterResponse = false;
  /** The head sent upstream: the client's own, or one rebuilt after pre-hooks. */
  private upstreamHead: Buffer | null = null;

  // The hooked part of the current exchange, when hooks match it.
  private chain: HookChain | null = null;
  private hooked: HookedRequest | null = null;
  /** What the hook calls of the current exchange share (its id, who called, the observers). */
  private callContext: ChainContext | null = null;
  /** Who is connected, for hook calls: worked out on the first hooked call, then kept. */
  private identity: ClientIdentity | undefined;
  /** Pre-hook warnings for the client, delivered in the response's `Warnings` where it has one. */
  private clientWarnings: string[] | null = null;
  // What observers are told of the exchange: the status the client got, and byte marks.
  /** An exchange began (a request head came, or a refusal is due) and is not recorded yet. */
  private exchangeOpen = false;
  private status = 0;
  private bytesInMark = 0;
  private bytesOutMark = 0;
  private tunnelObserved = false;
  private collected: { parts: Buffer[]; size: number } | null = null;
  /** A request body held whole (read for hooks), sent right after the head. */
  private heldBody: Buffer | null = null;
  private responseCollect: ResponseCollect | null = null;

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

  // ── Draining (shutdown) ─────────────────────────────────────────────────────────────────────

  /**
   * The proxy is shutting down: an idle connection closes now; one with an exchange in flight
   * finishes it and then closes (its response says `Connection: close` when it has not started
   * yet). Tunnels and long streams run on until the proxy cuts them at its bound.
   */
  drain(): void {
    if (this.draining || this.phase === Phase.Closed) return;
    this.draining = true;
    if (this.phase === Phase.ReadingHead && this.pending === null) {
      this.close();
      return;
    }
    if (!this.responseStarted) this.closeAfterResponse = true;
  }

  // ── Client side ──────────────────────────────────────────────────────────────────────────────

  private onClientData(chunk: Buffer): void {
    if (this.phase === Phase.Tunnel) {
      this.relay(chunk, this.upstream!.socket, this.client);
      return;
    }
    if (this.phase === Phase.CollectingBody) {
      this.collectRequestBody(chunk);
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
    if (this.exchangeOpen) {
      // Cut before it was over (a client abort, or abort() on a broken response): no whole answer.
      this.status = 0;
      this.recordExchange();
    }
    if (this.tunnelObserved) {
      this.tunnelObserved = false;
      this.context.observers.tunnelClosed(this.bytesSinceMark());
    }
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
    this.exchangeOpen = true;
    let head: RequestHead;
    let framing: Framing;
    try {
      head = parseRequestHead(buffered.subarray(0, end));
      this.request = head; // a refusal of its framing names its method
      framing = requestFraming(head);
    } catch (error) {
      this.refuse(error);
      return;
    }
    const chain = this.context.hooks.match(head.method, head.target);
    if (chain === null) this.startExchange(head, framing);
    else this.startHookedExchange(head, framing, chain);
  }

  // ── Step 2: get an upstream connection ──────────────────────────────────────────────────────

  private startExchange(head: RequestHead, framing: Framing): void {
    this.request = head;
    this.requestBody = trackBody(framing);
    this.closeAfterResponse = clientWantsClose(head) || this.draining;
    this.upstreamHead = upstreamRequestHead(head);
    this.connectUpstream();
  }

  private connectUpstream(): void {
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
    connection.owner = this;
    this.upstream = connection;
    this.phase = Phase.Exchanging;
    const socket = connection.socket;
    socket.cork();
    socket.write(this.upstreamHead!);
    if (this.heldBody !== null) {
      if (this.heldBody.length > 0) socket.write(this.heldBody);
      this.heldBody = null;
    }
    const early = this.pending;
    if (early !== null && !this.requestBody!.done) {
      this.pending = null;
      this.forwardRequestBody(early);
    }
    socket.uncork();
    if (this.upstream !== connection) return; // the early bytes ended the exchange (a malformed body)
    if (this.clientEnded && this.requestBody!.done) socket.end();
    // The client may have been held off while the exchange was being set up.
    if (!this.requestBody!.done && socket.writableLength <= RELAY_WINDOW_BYTES) this.client.resume();
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
      if (!socket.write(piece) && socket.writableLength > RELAY_WINDOW_BYTES) {
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
    if (this.responseCollect !== null) {
      this.collectResponseBody(chunk);
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
    this.status = head.status;
    const postHooks = this.chain !== null && this.chain.post.length > 0;
    if (head.status === 101) {
      if (postHooks) this.notifyPostHooks(head, "streamed");
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
      if (postHooks) this.notifyPostHooks(head, "streamed");
      this.openTunnel(head.raw, rest);
      return;
    }
    if (this.chain !== null && this.startHookedResponse(head, framing, rest)) return;
    if (rest === null) {
      this.sendResponseHead(head, framing);
      if (this.responseBody!.done) this.finish();
      return;
    }
    // Head and first body bytes leave in one write (one syscall for most small answers).
    this.client.cork();
    this.sendResponseHead(head, framing);
    this.forwardResponseBody(rest);
    this.client.uncork();
  }

  /**
   * A hooked exchange's response head: its body is read whole when a post-hook needs it or pre-hook
   * warnings go into it (true: collecting); otherwise the post-hooks observe the head and the
   * response streams on as usual (false).
   */
  private startHookedResponse(head: ResponseHead, framing: Framing, rest: Buffer | null): boolean {
    const chain = this.chain!;
    const ordinary = isOrdinaryResponse(chain.path, head, framing);
    const forHooks = ordinary && chain.post.some((h) => h.hook.needsBody);
    if (!forHooks && chain.post.length > 0) this.notifyPostHooks(head, ordinary ? "not-needed" : "streamed");
    if (!forHooks && !(ordinary && this.clientWarnings !== null)) return false;
    this.startResponseCollect(head, framing, rest, forHooks);
    return true;
  }

  // ── Step 6: send the response head ──────────────────────────────────────────────────────────

  private sendResponseHead(
    head: ResponseHead,
    framing: Framing,
    tracker: BodyTracker = trackBody(framing),
  ): void {
    // The client must close when the body ends by close, or when the engine answered before it
    // had the whole request body (what is left of it can no longer be told from a next request).
    if (framing.kind === "close" || !this.requestBody!.done) this.closeAfterResponse = true;
    this.responseBody = tracker;
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
    this.releaseUpstream(upstreamReusable);
    this.recordExchange();
    this.clientWarnings = null;
    this.callContext = null;
    const mustClose = this.closeAfterResponse || this.clientEnded || this.draining;
    this.request = null;
    this.requestBody = null;
    this.responseBody = null;
    this.upstreamHead = null;
    this.chain = null;
    this.hooked = null;
    this.collected = null;
    this.heldBody = null;
    this.responseCollect = null;
    this.responseStarted = false;
    this.closeAfterResponse = false;
    if (mustClose) {
      this.close();
      return;
    }
    this.phase = Phase.ReadingHead;
    this.readRequestHead();
  }

  // ── Hooked exchanges: read what the hooks need, run them, then carry on as above ─────────────

  private startHookedExchange(head: RequestHead, framing: Framing, chain: HookChain): void {
    this.request = head;
    this.chain = chain;
    this.hooked = hookedRequestFrom(head, chain);
    this.callContext = this.hookCallContext(randomUUID());
    this.requestBody = trackBody(framing);
    this.closeAfterResponse = clientWantsClose(head) || this.draining;
    const plan = planRequestBody(framing, head, chain);
    if (plan.kind === "stream") this.hooked.bodyOmitted = plan.omitted;
    if (plan.kind !== "collect") {
      this.runPreHooks();
      return;
    }
    if (framing.kind === "length" && framing.length > this.context.maxBodyBytes) {
      this.refuse(this.bodyTooLarge());
      return;
    }
    this.phase = Phase.CollectingBody;
    this.collected = { parts: [], size: 0 };
    const early = this.pending;
    this.pending = null;
    if (early !== null) this.collectRequestBody(early);
    else if (this.requestBody.done) this.runPreHooks();
  }

  private collectRequestBody(chunk: Buffer): void {
    const collected = this.collected!;
    let taken: number;
    try {
      taken = this.requestBody!.consume(chunk, 0, (buf, start, end) => {
        collected.parts.push(buf.subarray(start, end));
        collected.size += end - start;
      });
    } catch (error) {
      this.refuse(error);
      return;
    }
    if (collected.size > this.context.maxBodyBytes) {
      this.refuse(this.bodyTooLarge());
      return;
    }
    if (!this.requestBody!.done) return;
    if (taken < chunk.length) this.pending = chunk.subarray(taken);
    const bytes = Buffer.concat(collected.parts);
    this.collected = null;
    const body = parseJsonBody(bytes);
    if (body === undefined && bytes.length > 0) {
      // The engine's decoder accepts what JSON.parse refuses (trailing bytes, for one): a body
      // the hooks cannot judge must not reach the engine past them.
      this.refuse(new ProxyError(ProxyErrorCode.BadRequest, "the request body is not valid JSON"));
      return;
    }
    if (exceedsJsonDepth(body, MAX_JSON_DEPTH)) {
      // Re-serializing it (for the engine, for each hook call) is recursive: it would run out of stack.
      const message = `the request body nests JSON deeper than ${MAX_JSON_DEPTH} levels`;
      this.refuse(new ProxyError(ProxyErrorCode.BadRequest, message));
      return;
    }
    this.hooked!.body = body;
    // The engine gets exactly what the hooks judged, re-serialized: duplicate keys and other
    // shapes two JSON parsers could read differently do not survive.
    this.heldBody = body === undefined ? bytes : Buffer.from(JSON.stringify(body));
    this.runPreHooks();
  }

  private bodyTooLarge(): ProxyError {
    return new ProxyError(
      ProxyErrorCode.BodyTooLarge,
      `request body larger than ${this.context.maxBodyBytes} bytes: hooked calls are read whole (see --max-body-bytes)`,
    );
  }

  private runPreHooks(): void {
    this.phase = Phase.RunningHooks;
    const hooked = this.hooked!;
    const chain = this.chain!;
    runPreHooks(chain.pre, hooked, this.callContext!).then(
      (outcome) => {
        if (this.phase === Phase.Closed) return;
        if (outcome.kind === "deny") {
          this.answerDenied(outcome.status, outcome.message);
          return;
        }
        if (outcome.warnings.length > 0 && carriesWarnings(hooked.method, hooked.path)) {
          this.clientWarnings = outcome.warnings;
        }
        this.prepareHookedRequest();
        this.connectUpstream();
      },
      (error: unknown) => this.failBeforeResponse(error),
    );
  }

  /** The head (and body) the engine gets once the pre-hooks are done. */
  private prepareHookedRequest(): void {
    const head = this.request!;
    const hooked = this.hooked!;
    if (hooked.bodyChanged) {
      const body = hooked.body === undefined ? Buffer.alloc(0) : Buffer.from(JSON.stringify(hooked.body));
      if (!this.requestBody!.done) {
        // A body the hooks never saw is still streaming in: it cannot be swapped for another.
        this.pending = null;
        this.closeAfterResponse = true;
      }
      this.requestBody = trackBody({ kind: "none" });
      this.heldBody = body;
      this.upstreamHead = hookedUpstreamHead(head, hooked, body.length);
    } else if (this.heldBody !== null) {
      this.upstreamHead = hookedUpstreamHead(head, hooked, this.heldBody.length);
    } else if (hooked.headChanged) {
      this.upstreamHead = hookedUpstreamHead(head, hooked, null);
    } else {
      this.upstreamHead = upstreamRequestHead(head);
    }
  }

  /** A pre-hook said no: the client gets Docker's error shape with the adapter's status and message. */
  private answerDenied(status: number, message: string): void {
    this.status = status;
    const close = this.closeAfterResponse || this.clientEnded || !this.requestBody!.done;
    this.client.write(dockerErrorResponse(status, message, { close, headRequest: this.isHeadRequest() }));
    this.responseStarted = true;
    this.closeAfterResponse = close;
    this.finish(false);
  }

  /**
   * Streamed and upgraded responses, those too large to hold, and those no post-hook needs the body
   * of: post-hooks see the head only and observe (see HookedResponse.observed); they cannot hold
   * the response up.
   */
  private notifyPostHooks(head: ResponseHead, omitted: "streamed" | "not-needed" | "too-large"): void {
    const response = hookedResponseFrom(head, omitted);
    runPostHooks(this.chain!.post, this.hooked!, response, this.callContext!).catch(() => {
      // Each call's outcome is recorded as it ends; an observe-only run has nothing left to report.
    });
  }

  /** `forHooks`: the post-hooks need the body; otherwise it is read for the pre-hooks' warnings alone. */
  private startResponseCollect(
    head: ResponseHead,
    framing: Framing,
    rest: Buffer | null,
    forHooks: boolean,
  ): void {
    this.responseBody = trackBody(framing);
    this.responseCollect = { head, framing, forHooks, raw: [], payload: [], size: 0 };
    if (rest !== null) this.collectResponseBody(rest);
    else if (this.responseBody.done) this.completeResponseCollect(true);
  }

  private collectResponseBody(chunk: Buffer): void {
    const collect = this.responseCollect!;
    const body = this.responseBody!;
    let taken: number;
    try {
      taken = body.consume(chunk, 0, (buf, start, end) => {
        collect.payload.push(buf.subarray(start, end));
        collect.size += end - start;
      });
    } catch {
      this.abort();
      return;
    }
    collect.raw.push(taken === chunk.length ? chunk : chunk.subarray(0, taken));
    if (collect.size > this.context.maxBodyBytes) {
      // Too big to hold: the hooks see the head only, and the body streams on as it came.
      this.responseCollect = null;
      if (collect.forHooks) this.notifyPostHooks(collect.head, "too-large");
      this.sendResponseHead(collect.head, collect.framing, body);
      this.client.write(Buffer.concat(collect.raw));
      if (body.done) this.finish(taken === chunk.length);
      return;
    }
    if (body.done) this.completeResponseCollect(taken === chunk.length);
  }

  private completeResponseCollect(upstreamReusable: boolean): void {
    const collect = this.responseCollect!;
    this.responseCollect = null;
    this.releaseUpstream(upstreamReusable);
    const response = hookedResponseFrom(collect.head);
    const payload = Buffer.concat(collect.payload);
    response.body = parseJsonBody(payload);
    if (response.body === undefined && payload.length > 0) response.bodyOmitted = "binary";
    if (!collect.forHooks) {
      this.sendCollectedResponse(collect, response);
      return;
    }
    runPostHooks(this.chain!.post, this.hooked!, response, this.callContext!).then(
      (result) => {
        if (this.phase !== Phase.Closed) this.sendCollectedResponse(collect, result);
      },
      (error: unknown) => this.failBeforeResponse(error),
    );
  }

  /** A response read whole: as it came, or re-serialized when hooks or warnings changed it. */
  private sendCollectedResponse(collect: ResponseCollect, result: HookedResponse): void {
    this.deliverWarnings(result);
    this.status = result.status;
    if (!this.requestBody!.done) this.closeAfterResponse = true;
    this.responseStarted = true;
    if (result.changed) {
      const statusText =
        result.status === collect.head.status ? collect.head.statusText : (STATUS_CODES[result.status] ?? "");
      this.client.write(rewrittenResponse(result, statusText, this.closeAfterResponse));
    } else {
      this.client.write(clientResponseHead(collect.head, this.closeAfterResponse));
      for (const piece of collect.raw) this.client.write(piece);
    }
    this.finish();
  }

  /** Hands the engine connection back for reuse when the exchange left it clean, else closes it. */
  private releaseUpstream(upstreamReusable: boolean): void {
    const connection = this.upstream;
    if (connection === null) return;
    this.upstream = null;
    const reusable = upstreamReusable && this.requestBody!.done && !this.clientEnded && !connection.closed;
    if (reusable) this.context.pool.release(connection);
    else this.context.pool.discard(connection);
  }

  // ── Upgrades and hijacked streams ───────────────────────────────────────────────────────────

  private openTunnel(responseHead: Buffer, upstreamRest: Buffer | null): void {
    this.phase = Phase.Tunnel;
    this.responseStarted = true;
    // The exchange that opened the tunnel ends here; the tunnel's bytes are reported when it closes.
    this.recordExchange();
    if (this.context.observers.exchanges) {
      this.context.observers.tunnelOpened();
      this.tunnelObserved = true;
    }
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

  // ── Observing ───────────────────────────────────────────────────────────────────────────────

  /**
   * What every hook call of this request shares: its id (in the call, the trace and the logs) and
   * who made it. Identifying the client is a system call on a unix socket (SO_PEERCRED): made on
   * the connection's first hooked request, then kept.
   */
  private hookCallContext(requestId: string): ChainContext {
    // A client already gone cannot be identified any more: its hook calls carry no `client`.
    if (this.identity === undefined && !this.client.destroyed) this.identity = identifyClient(this.client);
    return {
      requestId,
      registry: this.context.hooks,
      observers: this.context.observers,
      client: this.identity,
    };
  }

  /** Pre- and post-hook warnings into the client's answer, where Docker's answer has `Warnings`. */
  private deliverWarnings(response: HookedResponse): void {
    const hooked = this.hooked!;
    if (!carriesWarnings(hooked.method, hooked.path)) return;
    addWarnings(response, [...(this.clientWarnings ?? []), ...(response.warnings ?? [])]);
  }

  /**
   * Moves the byte marks to now and fills in the bytes both ways since the last mark: the socket's
   * own counters, so nothing is counted per chunk. `bytesWritten` includes what is still queued,
   * and drops when a destroyed socket discards its queue; counters cannot go down, so the mark
   * only moves forward (bytes queued and then discarded stay counted).
   */
  private takeBytes(into: { bytesIn: number; bytesOut: number }): void {
    const read = this.client.bytesRead;
    const written = this.client.bytesWritten; // each read copies the write queue: once
    into.bytesIn = read - this.bytesInMark;
    into.bytesOut = written > this.bytesOutMark ? written - this.bytesOutMark : 0;
    this.bytesInMark = read;
    if (written > this.bytesOutMark) this.bytesOutMark = written;
  }

  private bytesSinceMark(): { bytesIn: number; bytesOut: number } {
    const bytes = { bytesIn: 0, bytesOut: 0 };
    this.takeBytes(bytes);
    return bytes;
  }

  /** Tells exchange observers how the exchange in flight went: once, and only when one is open. */
  private recordExchange(): void {
    if (!this.exchangeOpen) return;
    this.exchangeOpen = false;
    const observers = this.context.observers;
    if (observers.exchanges) {
      const request = this.request;
      const hooked = this.chain !== null;
      const record: ExchangeRecord = {
        // Pass-through exchanges get an id only when someone wants one (a debug log).
        requestId: hooked ? this.callContext!.requestId : observers.requestIds ? randomUUID() : undefined,
        method: request === null ? "" : request.method,
        path: request === null ? "" : targetPath(request.target),
        status: this.status,
        hooked,
        bytesIn: 0,
        bytesOut: 0,
      };
      this.takeBytes(record);
      observers.exchange(record);
    }
    this.status = 0;
  }

  // ── Shared pieces ───────────────────────────────────────────────────────────────────────────

  /** Writes with backpressure: a destination past the window pauses the source until it drains. */
  private relay(chunk: Buffer, destination: Socket, source: Socket): void {
    if (!destination.write(chunk) && destination.writableLength > RELAY_WINDOW_BYTES) {
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
    this.close(
      dockerErrorResponse(proxyError.status, proxyError.message, {
        close: true,
        headRequest: this.isHeadRequest(),
      }),
    );
    // A refused request is an exchange too, even one whose head could not be read.
    this.status = proxyError.status;
    this.exchangeOpen = true;
    this.recordExchange();
  }

  /** Ends the connection, after `last` when given, and tells the proxy it is gone. */
  private close(last?: Buffer): void {
    this.phase = Phase.Closed;
    if (last === undefined) this.client.end();
    else this.client.end(last);
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
    this.status = proxyError.status;
    // Unread request body bytes would be mistaken for a next request: close unless there are none.
    const close =
      this.closeAfterResponse ||
      this.clientEnded ||
      !(this.requestBody?.done ?? true) ||
      this.pending !== null;
    this.client.write(
      dockerErrorResponse(proxyError.status, proxyError.message, {
        close,
        headRequest: this.isHeadRequest(),
      }),
    );
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

  private isHeadRequest(): boolean {
    return this.request?.method === "HEAD";
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

/** A request target's path (as sent: a version prefix kept), without its query. */
function targetPath(target: string): string {
  const query = target.indexOf("?");
  return query === -1 ? target : target.slice(0, query);
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
