import { matchHookPath, parseHookPath } from "@powerstrip/protocol";
import type { Framing } from "../http/framing.js";
import type { RawHeaders, RequestHead, ResponseHead } from "../http/head.js";
import { headerValue, isHopByHop, serializeHead } from "../http/head.js";
import {
  type HookedRequest,
  type HookedResponse,
  type Json,
  parseQuery,
  requestTarget,
} from "./hooked-request.js";
import type { HookChain } from "./registry.js";

/** Pure steps of a hooked exchange: what to read, what to send. No sockets here. */

/** The request's headers as hooks see them: hop-by-hop ones (and those Connection names) left out. */
export function endToEndHeaders(headers: RawHeaders, connectionTokens: string[]): RawHeaders {
  const out: RawHeaders = [];
  for (let i = 0; i < headers.length; i += 2) {
    const lower = headers[i]!.toLowerCase();
    if (isHopByHop(lower, connectionTokens) || lower.startsWith("proxy-")) continue;
    out.push(headers[i]!, headers[i + 1]!);
  }
  return out;
}

export function hookedRequestFrom(head: RequestHead, chain: HookChain): HookedRequest {
  return {
    method: head.method,
    path: chain.path,
    apiVersion: chain.apiVersion,
    query: parseQuery(chain.query),
    headers: endToEndHeaders(head.headers, head.connectionTokens),
    body: undefined,
    bodyOmitted: undefined,
    headChanged: false,
    bodyChanged: false,
  };
}

export function isJsonType(headers: RawHeaders): boolean {
  const type = headerValue(headers, "content-type");
  if (type === undefined) return false;
  const media = type.split(";")[0]!.trim().toLowerCase();
  return media === "application/json" || media.endsWith("+json");
}

/** How a hooked request's body is handled: no body, read whole for the hooks, or streamed past them. */
export type RequestBodyPlan =
  | { kind: "none" }
  | { kind: "collect" }
  | { kind: "stream"; omitted: "binary" | "not-needed" };

export function planRequestBody(framing: Framing, head: RequestHead, chain: HookChain): RequestBodyPlan {
  if (framing.kind === "none") return { kind: "none" };
  if (!isJsonType(head.headers)) return { kind: "stream", omitted: "binary" };
  const needed = chain.pre.some((h) => h.hook.needsBody) || chain.post.some((h) => h.hook.needsBody);
  return needed ? { kind: "collect" } : { kind: "stream", omitted: "not-needed" };
}

/** Parses a collected body; a body that claims JSON but is not stays bytes the hooks do not see. */
export function parseJsonBody(bytes: Buffer): Json | undefined {
  if (bytes.length === 0) return undefined;
  try {
    return JSON.parse(bytes.toString("utf8")) as Json;
  } catch {
    return undefined;
  }
}

/**
 * The head sent to the engine for a hooked request. `bodyLength` is set when the proxy holds the
 * whole body (framing is then a fresh Content-Length); otherwise the client's framing is kept.
 */
export function hookedUpstreamHead(
  head: RequestHead,
  request: HookedRequest,
  bodyLength: number | null,
): Buffer {
  const headers: string[] = [];
  for (let i = 0; i < request.headers.length; i += 2) {
    const lower = request.headers[i]!.toLowerCase();
    if (bodyLength !== null && (lower === "content-length" || lower === "transfer-encoding")) continue;
    headers.push(request.headers[i]!, request.headers[i + 1]!);
  }
  const extra: string[] = [];
  if (bodyLength !== null) {
    if (bodyLength > 0 && headerValue(headers, "content-type") === undefined)
      extra.push("Content-Type: application/json");
    extra.push(`Content-Length: ${bodyLength}`);
  }
  if (head.upgrade !== null && head.connectionTokens.includes("upgrade")) {
    extra.push("Connection: Upgrade", `Upgrade: ${head.upgrade}`);
  }
  const startLine = `${request.method} ${requestTarget(request)} HTTP/1.1`;
  return serializeHead(startLine, { headers, connectionTokens: [] }, extra);
}

/**
 * Endpoints whose responses are streams however they are typed, or whose bodies may never come:
 * post-hooks see their heads only.
 */
const STREAMING_ENDPOINTS = [
  "/events",
  "/containers/{id}/logs",
  "/containers/{id}/stats",
  "/containers/{id}/attach",
  "/containers/{id}/attach/ws",
  "/containers/{id}/export",
  // Answered with its head at once and its body only when the container exits; `docker run`
  // waits for that head before it starts the container.
  "/containers/{id}/wait",
  "/exec/{id}/start",
  "/images/create",
  "/images/{name}/push",
  "/images/{name}/get",
  "/images/get",
  "/images/load",
  "/build",
  "/session",
  "/grpc",
].map((path) => ({ segments: parseHookPath(path) }));

/** True when a response can be read whole for the post-hooks (a JSON document, not a stream). */
export function isOrdinaryResponse(path: string, head: ResponseHead, framing: Framing): boolean {
  if (framing.kind === "close" || framing.kind === "none") return framing.kind === "none";
  if (!isJsonType(head.headers)) return false;
  return !STREAMING_ENDPOINTS.some((pattern) => matchHookPath(pattern, path) !== null);
}

/**
 * The response as post-hooks see it. `omitted` says why they get the head only, which makes the
 * response observe-only (see HookedResponse.observed); without it the body is read for them.
 */
export function hookedResponseFrom(
  head: ResponseHead,
  omitted?: "streamed" | "not-needed" | "too-large",
): HookedResponse {
  return {
    status: head.status,
    headers: endToEndHeaders(head.headers, head.connectionTokens),
    body: undefined,
    bodyOmitted: omitted,
    streamed: omitted === "streamed",
    observed: omitted !== undefined,
    changed: false,
  };
}

/** A rewritten response, framed by a fresh Content-Length. */
export function rewrittenResponse(response: HookedResponse, statusText: string, close: boolean): Buffer {
  const body =
    response.body === undefined ? Buffer.alloc(0) : Buffer.from(`${JSON.stringify(response.body)}\n`);
  const headers: string[] = [];
  for (let i = 0; i < response.headers.length; i += 2) {
    const lower = response.headers[i]!.toLowerCase();
    if (lower === "content-length" || lower === "transfer-encoding") continue;
    headers.push(response.headers[i]!, response.headers[i + 1]!);
  }
  const extra = [`Content-Length: ${body.length}`];
  if (response.body !== undefined && headerValue(headers, "content-type") === undefined)
    extra.push("Content-Type: application/json");
  if (close) extra.push("Connection: close");
  const head = serializeHead(
    `HTTP/1.1 ${response.status} ${statusText}`,
    { headers, connectionTokens: [] },
    extra,
  );
  return Buffer.concat([head, body]);
}
