import {
  buildHeaderMap,
  exceedsJsonDepth,
  MAX_JSON_DEPTH,
  schemas,
  splitRequestTarget,
  validateLegacyPostHookReply,
  validateLegacyPreHookReply,
} from "@powerstrip/protocol";
import { AdapterFailure, AdapterFailureKind } from "./adapter-failure.js";
import {
  type HookedRequest,
  type HookedResponse,
  type Json,
  parseQuery,
  requestTarget,
} from "./hooked-request.js";

/**
 * The 2015 ClusterHQ Powerstrip protocol (v1), for adapters written then. Bodies travel as
 * strings; the adapter may change the method, the request line and the body.
 */
export function legacyPreCall(request: HookedRequest) {
  return {
    PowerstripProtocolVersion: 1,
    Type: "pre-hook",
    ClientRequest: legacyClientRequest(request),
  };
}

export function legacyPostCall(request: HookedRequest, response: HookedResponse) {
  return {
    PowerstripProtocolVersion: 1,
    Type: "post-hook",
    ClientRequest: legacyClientRequest(request),
    ServerResponse: {
      ContentType: buildHeaderMap(response.headers)["content-type"] ?? "text/plain",
      Body: response.body === undefined ? "" : JSON.stringify(response.body),
      Code: response.status,
    },
  };
}

function legacyClientRequest(request: HookedRequest) {
  return {
    Method: request.method,
    Request: requestTarget(request),
    Body: request.body === undefined ? "" : JSON.stringify(request.body),
  };
}

function invalid(message: string): AdapterFailure {
  return new AdapterFailure(AdapterFailureKind.InvalidReply, message);
}

function parseBody(text: string | null, what: string): Json | undefined {
  if (text === null || text === "") return undefined; // 2015 adapters said "no body" both ways
  let body: Json;
  try {
    body = JSON.parse(text) as Json;
  } catch {
    throw invalid(`${what} Body is not JSON`);
  }
  if (exceedsJsonDepth(body, MAX_JSON_DEPTH))
    throw invalid(`${what} Body nests JSON deeper than ${MAX_JSON_DEPTH} levels`);
  return body;
}

const rewritePathRule = (
  schemas.Definitions.$defs as Record<string, { pattern: string; description: string }>
).rewritePath!;
const REWRITE_PATH = new RegExp(rewritePathRule.pattern, "u");

export function applyLegacyPreReply(reply: unknown, request: HookedRequest): void {
  const result = validateLegacyPreHookReply(reply);
  if (!result.ok) throw invalid(`invalid v1 pre-hook reply: ${result.errors.join("; ")}`);
  const modified = (
    result.value as { ModifiedClientRequest: { Method: string; Request: string; Body: string | null } }
  ).ModifiedClientRequest;
  const before = requestTarget(request);
  if (modified.Method !== request.method) {
    request.method = modified.Method;
    request.headChanged = true;
  }
  if (modified.Request !== before) {
    const target = splitRequestTarget(modified.Request);
    // The same rule as a v2 path rewrite: a path on the engine, nothing that changes where it goes.
    if (!REWRITE_PATH.test(target.path)) {
      throw invalid(
        `ModifiedClientRequest.Request must be a path on the Docker engine (${rewritePathRule.description}), got ${JSON.stringify(modified.Request.slice(0, 100))}`,
      );
    }
    request.path = target.path;
    request.apiVersion = target.apiVersion;
    request.query = parseQuery(target.query);
    request.headChanged = true;
  }
  const body = parseBody(modified.Body, "ModifiedClientRequest");
  if (JSON.stringify(body) !== JSON.stringify(request.body)) {
    request.body = body;
    request.bodyChanged = true;
  }
}

export function applyLegacyPostReply(reply: unknown, response: HookedResponse): void {
  const result = validateLegacyPostHookReply(reply);
  if (!result.ok) throw invalid(`invalid v1 post-hook reply: ${result.errors.join("; ")}`);
  const modified = (
    result.value as {
      ModifiedServerResponse: { ContentType: string | null; Body: string | null; Code: number };
    }
  ).ModifiedServerResponse;
  const body = parseBody(modified.Body, "ModifiedServerResponse");
  if (modified.Code !== response.status || JSON.stringify(body) !== JSON.stringify(response.body)) {
    response.status = modified.Code;
    response.body = body;
    response.changed = true;
  }
}
