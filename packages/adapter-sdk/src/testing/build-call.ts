import {
  buildHeaderMap,
  buildQueryMap,
  CREDENTIAL_HEADERS,
  type HookCall,
  type HookRequest,
  type HookResponse,
  matchHookMethod,
  matchHookPath,
  parseHookPattern,
  splitRequestTarget,
} from "@powerstrip/protocol";
import { AdapterSdkError, AdapterSdkErrorCode } from "../errors.js";
import type { Adapter, DeclaredHook } from "../types.js";

/** A client request, as a test writes it. */
export interface TestRequest {
  method: string;
  /** With or without a `/v1.41` prefix; may carry a query (`/containers/create?name=web`). */
  path: string;
  /** The JSON body; leave it out for a request without one. */
  body?: unknown;
  /** Added to the query in `path`; an array repeats the key. */
  query?: Record<string, string | string[]>;
  headers?: Record<string, string>;
  /** Simulate a body the proxy does not send: "binary" (not JSON) or "too-large". */
  bodyOmitted?: "binary" | "too-large";
}

/** Docker's response, as a test writes it. */
export interface TestResponse {
  /** Default 200. */
  status?: number;
  headers?: Record<string, string>;
  body?: unknown;
  /** A streamed or upgraded response: it has no body. */
  streamed?: boolean;
  bodyOmitted?: "binary" | "too-large";
}

/** The hook to call: the first declared key of this stage that matches, or the one `key` names. */
export function findHook(
  adapter: Adapter,
  stage: "pre" | "post",
  request: TestRequest,
  key?: string,
): DeclaredHook {
  const { path } = splitRequestTarget(request.path);
  const method = request.method.toUpperCase();
  const found = adapter.hooks.find(
    (hook) =>
      hook.stage === stage &&
      (key === undefined || hook.key === key) &&
      matchHookMethod(hook, method) &&
      matchHookPath(parseHookPattern(hook.key), path) !== null,
  );
  if (found) return found;
  const declared = adapter.hooks.map((hook) => `${hook.stage} ${hook.key}`).join(", ");
  throw new AdapterSdkError(
    AdapterSdkErrorCode.NoMatchingHook,
    `${adapter.name} has no ${stage} hook${key ? ` ${key}` : ""} matching ${method} ${request.path} (it declares: ${declared})`,
  );
}

/** The HookCall the proxy would send to `hook` for this request (and response). */
export function buildHookCall(
  name: string,
  hook: DeclaredHook,
  request: TestRequest,
  response: TestResponse | undefined,
  requestId = "test-request",
  credentials = false,
): HookCall {
  const call: HookCall = {
    version: "2",
    requestId,
    adapter: name,
    stage: hook.stage,
    hook: hook.key,
    request: buildRequest(hook, request, credentials),
  };
  if (hook.stage === "post") call.response = buildResponse(hook, response ?? {});
  return call;
}

/** As the proxy does, credential headers are left out unless the adapter declares `credentials`. */
function buildRequest(hook: DeclaredHook, input: TestRequest, credentials: boolean): HookRequest {
  const { path, apiVersion, query } = splitRequestTarget(input.path);
  const request: HookRequest = {
    method: input.method.toUpperCase(),
    path,
    apiVersion,
    params: matchHookPath(parseHookPattern(hook.key), path) ?? {},
    query: { ...buildQueryMap(query), ...normalizeQuery(input.query ?? {}) },
    headers: headersFor(input.headers, input.body),
  };
  if (!credentials) for (const header of CREDENTIAL_HEADERS) delete request.headers[header];
  return withBody(request, hook, input.body, input.bodyOmitted);
}

function buildResponse(hook: DeclaredHook, input: TestResponse): HookResponse {
  const streamed = input.streamed === true;
  if (streamed && input.body !== undefined) {
    throw new AdapterSdkError(
      AdapterSdkErrorCode.InvalidTestCall,
      "a streamed response has no body: leave body out",
    );
  }
  const response: HookResponse = {
    status: input.status ?? 200,
    headers: headersFor(input.headers, input.body),
    streamed,
  };
  if (streamed) return { ...response, bodyOmitted: "streamed" };
  return withBody(response, hook, input.body, input.bodyOmitted);
}

/** As the proxy does: the body when the hook needs it, else why it is left out. */
function withBody<T extends object>(
  message: T,
  hook: DeclaredHook,
  body: unknown,
  omitted?: "binary" | "too-large",
): T {
  if (omitted !== undefined) return { ...message, bodyOmitted: omitted };
  if (body === undefined) return message;
  if (!hook.needsBody) return { ...message, bodyOmitted: "not-needed" };
  // Through JSON, as on the wire: the hook never shares objects with the test.
  return { ...message, body: JSON.parse(JSON.stringify(body)) };
}

function headersFor(headers: Record<string, string> | undefined, body: unknown): Record<string, string> {
  const map = buildHeaderMap(Object.entries(headers ?? {}));
  if (body !== undefined) {
    map["content-type"] ??= "application/json";
    map["content-length"] ??= String(Buffer.byteLength(JSON.stringify(body)));
  }
  return map;
}

/** A one-item array is a key seen once; an empty one is no key at all. */
function normalizeQuery(query: Record<string, string | string[]>): Record<string, string | string[]> {
  const entries = Object.entries(query).flatMap(([key, value]): Array<[string, string | string[]]> => {
    if (!Array.isArray(value)) return [[key, value]];
    if (value.length === 0) return [];
    return [[key, value.length === 1 ? value[0]! : value]];
  });
  return Object.fromEntries(entries);
}
