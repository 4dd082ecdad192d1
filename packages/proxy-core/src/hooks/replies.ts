import {
  applyJsonPatch,
  CREDENTIAL_HEADERS,
  exceedsJsonDepth,
  isEditableRequestHeader,
  MAX_JSON_DEPTH,
  validatePostHookReply,
  validatePreHookReply,
} from "@powerstrip/protocol";
import { AdapterFailure, AdapterFailureKind } from "./adapter-failure.js";
import type { HookedRequest, HookedResponse, Json } from "./hooked-request.js";
import type { HookedAdapter } from "./registry.js";

export interface HeaderEdits {
  set?: Record<string, string>;
  remove?: string[];
}

interface QueryEdits {
  set?: Record<string, string | string[]>;
  remove?: string[];
}

export type PreReply =
  | { action: "allow"; warnings?: string[] }
  | { action: "deny"; status: number; message: string; warnings?: string[] }
  | {
      action: "rewrite";
      body?: Json;
      patch?: unknown[];
      query?: QueryEdits;
      headers?: HeaderEdits;
      path?: string;
      warnings?: string[];
    };

export type PostReply =
  | { action: "pass"; warnings?: string[] }
  | {
      action: "rewrite";
      status?: number;
      headers?: HeaderEdits;
      body?: Json;
      patch?: unknown[];
      warnings?: string[];
    };

function invalid(message: string): AdapterFailure {
  return new AdapterFailure(AdapterFailureKind.InvalidReply, message);
}

/**
 * A pre-hook reply the proxy can apply, or AdapterFailure naming what is wrong. Header edits may
 * name only the allowlisted headers (the schema), and credential headers only when `adapter` has
 * the credentials grant.
 */
export function checkPreReply(reply: unknown, adapter: Pick<HookedAdapter, "receivesCredentials">): PreReply {
  checkDepth(reply, "pre-hook");
  const result = validatePreHookReply(reply);
  if (!result.ok) throw invalid(`invalid pre-hook reply: ${result.errors.join("; ")}`);
  const checked = result.value as PreReply;
  if (checked.action === "rewrite" && checked.headers)
    checkHeaderNames(checked.headers, adapter.receivesCredentials === true);
  return checked;
}

export function checkPostReply(reply: unknown): PostReply {
  checkDepth(reply, "post-hook");
  const result = validatePostHookReply(reply);
  if (!result.ok) throw invalid(`invalid post-hook reply: ${result.errors.join("; ")}`);
  return result.value as PostReply;
}

/** Deeper JSON than this would overflow the stack when the proxy serializes it again. */
function checkDepth(reply: unknown, what: string): void {
  if (exceedsJsonDepth(reply, MAX_JSON_DEPTH))
    throw invalid(`invalid ${what} reply: it nests JSON deeper than ${MAX_JSON_DEPTH} levels`);
}

function checkHeaderNames(edits: HeaderEdits, credentials: boolean): void {
  const named: [string, string][] = [
    ...Object.keys(edits.set ?? {}).map((name): [string, string] => ["headers.set", name]),
    ...(edits.remove ?? []).map((name, i): [string, string] => [`headers.remove[${i}]`, name]),
  ];
  for (const [field, name] of named) {
    if (isEditableRequestHeader(name, { credentials })) continue;
    throw invalid(
      CREDENTIAL_HEADERS.includes(name)
        ? `invalid pre-hook reply: ${field}: ${name} carries the client's credentials; only an adapter that declares credentials and is loaded with --allow-credentials may edit it`
        : `invalid pre-hook reply: ${field}: ${name} is not a header adapters may edit`,
    );
  }
}

export function applyPreReply(reply: PreReply, request: HookedRequest): void {
  if (reply.action !== "rewrite") return;
  if (reply.path !== undefined) {
    request.path = reply.path;
    request.headChanged = true;
  }
  if (reply.query) {
    applyQueryEdits(request, reply.query);
    request.headChanged = true;
  }
  if (reply.headers) {
    request.headers = editHeaders(request.headers, reply.headers);
    request.headChanged = true;
  }
  if (reply.body !== undefined) {
    request.body = reply.body;
    request.bodyChanged = true;
  } else if (reply.patch !== undefined) {
    if (request.body === undefined)
      throw invalid("a JSON Patch was sent for a request that has no JSON body");
    request.body = patched(request.body, reply.patch);
    request.bodyChanged = true;
  }
}

export function applyPostReply(reply: PostReply, response: HookedResponse): void {
  if (reply.action !== "rewrite") return;
  if (reply.status !== undefined) response.status = reply.status;
  if (reply.headers) response.headers = editHeaders(response.headers, reply.headers);
  if (reply.body !== undefined) response.body = reply.body;
  else if (reply.patch !== undefined) {
    if (response.body === undefined)
      throw invalid("a JSON Patch was sent for a response that has no JSON body");
    response.body = patched(response.body, reply.patch);
  }
  response.changed = true;
}

function patched(document: Json, patch: unknown[]): Json {
  try {
    return applyJsonPatch(document, patch as Parameters<typeof applyJsonPatch>[1]) as Json;
  } catch (error) {
    throw invalid(`JSON Patch failed: ${error instanceof Error ? error.message : String(error)}`);
  }
}

function applyQueryEdits(request: HookedRequest, edits: QueryEdits): void {
  const drop = new Set([...(edits.remove ?? []), ...Object.keys(edits.set ?? {})]);
  const kept = request.query.filter(([key]) => !drop.has(key));
  for (const [key, value] of Object.entries(edits.set ?? {})) {
    for (const v of Array.isArray(value) ? value : [value]) kept.push([key, v]);
  }
  request.query = kept;
}

/**
 * Remove, then set. The schema has already refused edits of the headers the proxy owns (framing
 * and hop-by-hop ones; for requests, all but the allowlisted) and values with control characters
 * or characters above U+00FF (heads go out as latin1), so an adapter cannot smuggle a request.
 */
function editHeaders(headers: string[], edits: HeaderEdits): string[] {
  const drop = new Set([...(edits.remove ?? []), ...Object.keys(edits.set ?? {})]);
  const out: string[] = [];
  for (let i = 0; i < headers.length; i += 2) {
    if (!drop.has(headers[i]!.toLowerCase())) out.push(headers[i]!, headers[i + 1]!);
  }
  for (const [name, value] of Object.entries(edits.set ?? {})) out.push(name, value);
  return out;
}
