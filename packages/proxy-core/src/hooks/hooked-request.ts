import type { RawHeaders } from "../http/head.js";

/** JSON as adapters send and receive it. */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** Why a body that exists is not in a hook call. */
export type BodyOmitted = "binary" | "too-large" | "not-needed" | "streamed";

/**
 * A request as it passes through the pre-hooks: each hook sees the previous hooks' rewrites.
 * Headers exclude hop-by-hop ones; the path has no version prefix.
 */
export interface HookedRequest {
  method: string;
  path: string;
  apiVersion: string | null;
  query: [string, string][];
  headers: RawHeaders;
  /** The parsed JSON body, when the request has one and it was read. */
  body: Json | undefined;
  bodyOmitted: BodyOmitted | undefined;
  /** True once a hook changed the method, path, query or headers. */
  headChanged: boolean;
  /** True once a hook replaced or patched the body. */
  bodyChanged: boolean;
}

/** A response as it passes through the post-hooks. */
export interface HookedResponse {
  status: number;
  headers: RawHeaders;
  body: Json | undefined;
  bodyOmitted: BodyOmitted | undefined;
  /** Only the head is known: the body streams on (or the connection became a tunnel). */
  streamed: boolean;
  /**
   * Observe-only: the response goes to the client as it came (streamed, upgraded, or relayed because
   * no post-hook needs its body). Post-hooks see it; their rewrites and fail-closed failures have
   * nothing to apply to, and are recorded as `pass` and `ignored-failure`.
   */
  observed: boolean;
  /** True once a hook changed the response: it is re-serialized for the client. */
  changed: boolean;
  /** Warnings the post-hooks returned, for the client (see client-warnings.ts) and the trace. */
  warnings?: string[];
}

export function parseQuery(query: string): [string, string][] {
  if (query === "") return [];
  return [...new URLSearchParams(query)];
}

export function formatQuery(pairs: [string, string][]): string {
  return new URLSearchParams(pairs).toString();
}

/** The request target the engine gets, with the client's version prefix kept. */
export function requestTarget(request: HookedRequest): string {
  const prefix = request.apiVersion === null ? "" : `/v${request.apiVersion}`;
  const query = formatQuery(request.query);
  return `${prefix}${request.path}${query ? `?${query}` : ""}`;
}
