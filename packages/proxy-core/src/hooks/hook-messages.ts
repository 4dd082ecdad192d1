import { buildHeaderMap, buildQueryMap, type ClientIdentity, CREDENTIAL_HEADERS } from "@powerstrip/protocol";
import { formatQuery, type HookedRequest, type HookedResponse } from "./hooked-request.js";
import type { MatchedHook } from "./registry.js";

/** What adapters are shown of a request and a response: the wire shapes of a v2 hook call. */

/** What every hook call of one client request carries besides the request itself. */
export interface CallFacts {
  requestId: string;
  /** Who made the request (the connection's transport, peer, certificate); absent when unknown. */
  client?: ClientIdentity;
}

export function preHookCall(matched: MatchedHook, request: HookedRequest, facts: CallFacts) {
  return {
    version: "2",
    requestId: facts.requestId,
    adapter: matched.adapter.name,
    stage: "pre",
    hook: matched.pattern,
    request: wireRequest(request, matched),
    ...clientOf(facts),
  };
}

export function postHookCall(
  matched: MatchedHook,
  request: HookedRequest,
  response: HookedResponse,
  facts: CallFacts,
) {
  return {
    version: "2",
    requestId: facts.requestId,
    adapter: matched.adapter.name,
    stage: "post",
    hook: matched.pattern,
    request: wireRequest(request, matched),
    response: wireResponse(response, matched),
    ...clientOf(facts),
  };
}

function clientOf(facts: CallFacts): { client?: ClientIdentity } {
  return facts.client === undefined ? {} : { client: facts.client };
}

export function wireRequest(request: HookedRequest, matched: MatchedHook) {
  const wire: Record<string, unknown> = {
    method: request.method,
    path: request.path,
    apiVersion: request.apiVersion,
    params: matched.params,
    query: buildQueryMap(formatQuery(request.query)),
    headers: matched.adapter.receivesCredentials
      ? buildHeaderMap(request.headers)
      : withoutCredentials(buildHeaderMap(request.headers)),
  };
  if (request.body !== undefined && matched.hook.needsBody) wire.body = request.body;
  else if (request.body !== undefined) wire.bodyOmitted = "not-needed";
  else if (request.bodyOmitted !== undefined) wire.bodyOmitted = request.bodyOmitted;
  return wire;
}

/** Registry and API credentials stay between the client and the engine, unless the adapter has the grant. */
function withoutCredentials(headers: Record<string, string>): Record<string, string> {
  for (const name of CREDENTIAL_HEADERS) delete headers[name];
  return headers;
}

export function wireResponse(response: HookedResponse, matched: MatchedHook) {
  const wire: Record<string, unknown> = {
    status: response.status,
    headers: buildHeaderMap(response.headers),
    streamed: response.streamed,
  };
  if (response.body !== undefined && matched.hook.needsBody) wire.body = response.body;
  else if (response.body !== undefined) wire.bodyOmitted = "not-needed";
  else if (response.bodyOmitted !== undefined) wire.bodyOmitted = response.bodyOmitted;
  return wire;
}
