// Generated from packages/protocol/schemas by `npm run generate -w @powerstrip/protocol`. Do not edit:
// change the schemas and regenerate (a unit test fails while this file and the schemas disagree).

/**
 * lower-case letters, digits, '_', '.' and '-', starting with a letter or digit, at most 63 characters
 */
export type AdapterName = string;
/**
 * an upper-case HTTP method such as POST, or * for any method
 */
export type HookMethod = string;
/**
 * a path pattern without the /vX.Y prefix: '/' then segments that are literals, {param} or * (one segment)
 */
export type HookPath = string;
/**
 * pre: before Docker sees the request; post: after Docker answered, before the client sees the response.
 */
export type Stage = "pre" | "post";
/**
 * a method, one space and a path pattern, as declared in the handshake, e.g. "POST /containers/{id}/start"
 */
export type HookPattern = string;
/**
 * the HTTP method of the client's request, upper-case
 */
export type RequestMethod = string;
/**
 * a request path as sent (percent-encoding kept), without the /vX.Y prefix and without the query
 */
export type RequestPath = string;
/**
 * the API version of the client's /vX.Y prefix ("1.41"), or null when the path had none
 */
export type ApiVersion = string | null;
/**
 * binary: not a JSON document; too-large: over the proxy's limit; not-needed: the hook declared needsBody: false.
 */
export type RequestBodyOmitted = "binary" | "too-large" | "not-needed";
export type HttpStatus = number;
/**
 * binary, too-large and not-needed as for requests; streamed: the response is streamed.
 */
export type ResponseBodyOmitted = "binary" | "too-large" | "not-needed" | "streamed";
/**
 * A pre-hook's answer (HTTP 200): let the request pass, rewrite it, or deny it.
 */
export type PreHookReply = PreHookAllow | PreHookDeny | PreHookRewrite;
/**
 * Messages for the user. Where Docker's successful JSON response has a Warnings array (POST /containers/create, POST /containers/{id}/update, GET /info) they are appended to it, so the docker client prints them (a post-hook's only when that response is read whole anyway); otherwise, and always for a shadow adapter, they are logged and shown in `powerstrip trace`.
 *
 * @maxItems 100
 */
export type Warnings = string[];
export type JsonPatchOperation =
  | JsonPatchAdd
  | JsonPatchRemove
  | JsonPatchReplace
  | JsonPatchMove
  | JsonPatchCopy
  | JsonPatchTest;
/**
 * an RFC 6901 JSON Pointer: "" or '/'-separated tokens with '~' written ~0 and '/' written ~1
 */
export type JsonPointer = string;
/**
 * An RFC 6902 JSON Patch: operations applied in order, all or nothing. Members the RFC would ignore are refused here, so typos surface.
 */
export type JsonPatch = JsonPatchOperation[];
/**
 * a header value of visible ASCII, spaces, tabs and U+0080-U+00FF (sent as single bytes); no CR, LF, NUL or other control character
 */
export type HeaderValue = string;
/**
 * a request header adapters may edit: content-type, user-agent or x-meta-*; authorization, x-registry-auth and x-registry-config only by an adapter that receives credentials (it declares credentials and the operator allowed it)
 */
export type EditableRequestHeaderName = string;
/**
 * a path starting with '/', of RFC 3986 path characters (letters, digits, -._~!$&'()*+,;=:@/ and %XX escapes), without the /vX.Y prefix, '//', or '.' and '..' segments (escaped or not)
 */
export type RewritePath = string;
/**
 * A post-hook's answer (HTTP 200): pass Docker's response on, or rewrite it.
 */
export type PostHookReply = PostHookPass | PostHookRewrite;
/**
 * a lower-case response header name other than the ones the proxy manages (host, content-length, transfer-encoding, connection, keep-alive, proxy-connection, te, trailer, upgrade)
 */
export type EditableResponseHeaderName = string;
/**
 * Every adapter, in the order their pre-hooks run (GET /adapters, `powerstrip ls --json`).
 */
export type AdapterList = AdapterInfo[];
/**
 * One message of the live trace (GET /trace on the admin API, a WebSocket; `powerstrip trace --json` prints one per line): a hook call, or a notice that events were dropped because the watcher read too slowly.
 */
export type TraceEvent = TraceHookCall | TraceDropped;

/**
 * Every message and resource of the protocol, by name.
 */
export interface ProtocolMessages {
  HandshakeRequest: HandshakeRequest;
  HandshakeReply: HandshakeReply;
  HookCall: HookCall;
  PreHookReply: PreHookReply;
  PostHookReply: PostHookReply;
  JsonPatch: JsonPatch;
  ErrorReply: ErrorReply;
  LegacyPreHookCall: LegacyPreHookCall;
  LegacyPreHookReply: LegacyPreHookReply;
  LegacyPostHookCall: LegacyPostHookCall;
  LegacyPostHookReply: LegacyPostHookReply;
  LegacyAdaptersFile: LegacyAdaptersFile;
  AdapterInfo: AdapterInfo;
  AdapterList: AdapterList;
  LoadRequest: LoadRequest;
  AdminError: AdminError;
  TraceEvent: TraceEvent;
}
/**
 * POST /powerstrip/handshake, proxy → adapter: sent when the adapter is loaded and again whenever the proxy restarts. The adapter picks one of the offered versions or refuses with HTTP 400 and an ErrorReply.
 */
export interface HandshakeRequest {
  protocol: "powerstrip";
  /**
   * The protocol versions the proxy speaks, most preferred first.
   *
   * @minItems 1
   */
  versions: string[];
  proxy: {
    /**
     * The proxy's release, e.g. "0.1.0".
     */
    version: string;
  };
  name?: AdapterName;
  /**
   * Operator-supplied configuration for this instance. An adapter that declares a configSchema validates it and refuses the handshake (400) when it does not fit.
   */
  config?: {
    [k: string]: unknown;
  };
}
/**
 * The adapter's answer to a HandshakeRequest (HTTP 200): who it is and which calls it hooks. Beyond this schema the proxy also refuses a reply whose hooks repeat a method + path + stage, or whose path declares a {param} twice.
 */
export interface HandshakeReply {
  /**
   * The version the adapter picked from the offer.
   */
  version: "2";
  name: AdapterName;
  /**
   * The adapter's own release, for `powerstrip ls`.
   */
  adapterVersion?: string;
  /**
   * Lower runs first on the way in (pre-hooks) and last on the way out (post-hooks); ties are broken by name.
   */
  priority?: number;
  /**
   * fail: an adapter failure fails the client's call with a Docker-style error naming the adapter; ignore: the adapter is skipped.
   */
  failurePolicy?: "fail" | "ignore";
  /**
   * How long the proxy waits for each hook call before applying the failure policy.
   */
  timeoutMs?: number;
  /**
   * The calls the adapter hooks. Empty for a lifecycle-only adapter.
   *
   * @maxItems 256
   */
  hooks: HookDeclaration[];
  /**
   * true when the adapter needs the client's X-Registry-Auth, X-Registry-Config and Authorization headers, to read them or to replace them in a rewrite. They are sent (and editable) only if the operator also allows it (`powerstrip load --allow-credentials`); otherwise they are left out of every hook call and a rewrite naming one is a failure.
   */
  credentials?: boolean;
  /**
   * A JSON Schema (2020-12) for the `config` the adapter accepts.
   */
  configSchema?: {
    [k: string]: unknown;
  };
}
export interface HookDeclaration {
  method: HookMethod;
  path: HookPath;
  stage: Stage;
  /**
   * Whether calls of this hook carry the JSON bodies (request and, for post, response). false spares the proxy buffering them.
   */
  needsBody?: boolean;
}
/**
 * POST /powerstrip/hook, proxy → adapter: one call per matching hook. A pre-hook answers with a PreHookReply, a post-hook with a PostHookReply.
 */
export interface HookCall {
  version: "2";
  /**
   * Identifies the client's request across every hook call it causes (and in `powerstrip trace`).
   */
  requestId: string;
  adapter: AdapterName;
  stage: Stage;
  hook: HookPattern;
  request: HookRequest;
  response?: HookResponse;
  client?: ClientIdentity;
  /**
   * true when the adapter is loaded in shadow mode: its reply is recorded (trace, metrics) but has no effect on the call.
   */
  shadow?: boolean;
}
/**
 * body is the parsed JSON body, present only when the request has one and the hook needs bodies; bodyOmitted says why a body that exists is not included. Never both.
 */
export interface HookRequest {
  method: RequestMethod;
  path: RequestPath;
  apiVersion: ApiVersion;
  /**
   * The {param} segments of the hook's pattern, percent-decoded, matched against the client's original path.
   */
  params: {
    [k: string]: string;
  };
  query: QueryMap;
  headers: HeaderMap;
  body?: unknown;
  bodyOmitted?: RequestBodyOmitted;
}
/**
 * Query parameters, decoded as application/x-www-form-urlencoded: a string, or an array of strings in order when the key repeats.
 */
export interface QueryMap {
  [k: string]: string | string[];
}
/**
 * HTTP headers by lower-case name; a header sent more than once is joined with ", " in order.
 */
export interface HeaderMap {
  [k: string]: string;
}
export interface HookResponse {
  status: HttpStatus;
  headers: HeaderMap;
  body?: unknown;
  bodyOmitted?: ResponseBodyOmitted;
  /**
   * true when the proxy streams the response instead of buffering it (upgrades, attach/logs/events/stats streams, pull/push/build progress): then there is never a body and bodyOmitted is "streamed".
   */
  streamed: boolean;
}
/**
 * The connection the call came in on. unix: a unix socket (uid/gid/pid of the peer process when the platform tells them); tcp: plain TCP on loopback; tls: TCP with a verified client certificate.
 */
export interface ClientIdentity {
  transport: "unix" | "tcp" | "tls";
  uid?: number;
  gid?: number;
  pid?: number;
  /**
   * tcp and tls: the peer's address and port, e.g. "127.0.0.1:53122".
   */
  address?: string;
  certificate?: ClientCertificate;
}
/**
 * tls: the verified client certificate.
 */
export interface ClientCertificate {
  /**
   * The subject's CN, when it has one.
   */
  commonName?: string;
  /**
   * The subject as a one-line DN, e.g. "CN=alice,O=dev".
   */
  subject: string;
  /**
   * The issuer as a one-line DN.
   */
  issuer?: string;
  /**
   * SHA-256 fingerprint, colon-separated upper-case hex.
   */
  fingerprint256: string;
}
/**
 * Pass the request on unchanged.
 */
export interface PreHookAllow {
  action: "allow";
  warnings?: Warnings;
}
/**
 * Stop the request: the client gets `status` with Docker's error body {"message": message}; Docker never sees it and no later hook runs.
 */
export interface PreHookDeny {
  action: "deny";
  status: number;
  message: string;
  warnings?: Warnings;
}
/**
 * Change the request before the next hook and Docker see it. body replaces the JSON body; patch is an RFC 6902 JSON Patch applied to it (only when the call carried the body); query and headers are edits; path replaces the path (the proxy keeps the client's /vX.Y prefix). Nothing else can change: the request goes to the same engine, with the same method.
 */
export interface PreHookRewrite {
  action: "rewrite";
  body?: unknown;
  patch?: JsonPatch;
  query?: QueryEdits;
  headers?: RequestHeaderEdits;
  path?: RewritePath;
  warnings?: Warnings;
}
export interface JsonPatchAdd {
  op: "add";
  path: JsonPointer;
  value: unknown;
}
export interface JsonPatchRemove {
  op: "remove";
  path: JsonPointer;
}
export interface JsonPatchReplace {
  op: "replace";
  path: JsonPointer;
  value: unknown;
}
export interface JsonPatchMove {
  op: "move";
  from: JsonPointer;
  path: JsonPointer;
}
export interface JsonPatchCopy {
  op: "copy";
  from: JsonPointer;
  path: JsonPointer;
}
export interface JsonPatchTest {
  op: "test";
  path: JsonPointer;
  value: unknown;
}
/**
 * Query edits: remove applies first, then set (which replaces every value of the key; an array sends the key once per item).
 */
export interface QueryEdits {
  set?: {
    [k: string]: string | string[];
  };
  remove?: string[];
}
/**
 * Request header edits: remove applies first, then set (which replaces every value of the header). Only the headers of editableRequestHeaderName can be named: a rewrite cannot point the engine elsewhere, claim another client or change the framing.
 */
export interface RequestHeaderEdits {
  set?: {
    [k: string]: HeaderValue;
  };
  remove?: EditableRequestHeaderName[];
}
/**
 * Pass the response on unchanged.
 */
export interface PostHookPass {
  action: "pass";
  warnings?: Warnings;
}
/**
 * Change the response before the next post-hook and the client see it. body replaces the JSON body; patch is an RFC 6902 JSON Patch applied to it (only when the call carried the body). A streamed response can have its status and headers rewritten, never its body.
 */
export interface PostHookRewrite {
  action: "rewrite";
  status?: HttpStatus;
  headers?: ResponseHeaderEdits;
  body?: unknown;
  patch?: JsonPatch;
  warnings?: Warnings;
}
/**
 * Response header edits: remove applies first, then set (which replaces every value of the header). The framing headers are the proxy's: it sets them for the body it sends.
 */
export interface ResponseHeaderEdits {
  set?: {
    [k: string]: HeaderValue;
  };
  remove?: EditableResponseHeaderName[];
}
/**
 * Docker's error body: what an adapter answers with a non-200 status (e.g. 400 to refuse a handshake), and what a denied client receives.
 */
export interface ErrorReply {
  message: string;
}
/**
 * POSTed to a legacy adapter's URL before Docker sees the request.
 */
export interface LegacyPreHookCall {
  PowerstripProtocolVersion: 1;
  Type: "pre-hook";
  ClientRequest: LegacyClientRequest;
}
export interface LegacyClientRequest {
  Method: string;
  /**
   * The request target exactly as the client sent it, version prefix and query included.
   */
  Request: string;
  /**
   * The body's JSON text, or "" when the request had no JSON body.
   */
  Body: string;
}
/**
 * A legacy adapter's answer (HTTP 200) to a pre-hook call: the request to send on. As in 2015, an answer with an error status (4xx/5xx) is relayed to the client instead, and Docker never sees the call.
 */
export interface LegacyPreHookReply {
  PowerstripProtocolVersion: 1;
  ModifiedClientRequest: LegacyModifiedClientRequest;
}
export interface LegacyModifiedClientRequest {
  Method: string;
  Request: string;
  /**
   * The new body's JSON text; "" or null for no body (2015 adapters sent null).
   */
  Body: string | null;
}
/**
 * POSTed to a legacy adapter's URL after Docker answered (never for streamed responses).
 */
export interface LegacyPostHookCall {
  PowerstripProtocolVersion: 1;
  Type: "post-hook";
  ClientRequest: LegacyClientRequest;
  ServerResponse: LegacyServerResponse;
}
export interface LegacyServerResponse {
  ContentType: string;
  /**
   * The response body as text.
   */
  Body: string;
  Code: number;
}
/**
 * A legacy adapter's answer to a post-hook call: the response to send on.
 */
export interface LegacyPostHookReply {
  PowerstripProtocolVersion: 1;
  ModifiedServerResponse: LegacyModifiedServerResponse;
}
export interface LegacyModifiedServerResponse {
  /**
   * null keeps the content type unset (2015 adapters echoed null).
   */
  ContentType: string | null;
  /**
   * The new body as text; null for none.
   */
  Body: string | null;
  Code: number;
}
/**
 * A 2015 adapters.yml, once parsed from YAML: which adapters hook which endpoints, and where they listen. Endpoint keys are shell-style globs over the full request path, version prefix included; a key without a method matches every method. Beyond this schema, every adapter named under endpoints must be defined under adapters.
 */
export interface LegacyAdaptersFile {
  endpoints: {
    [k: string]: LegacyEndpoint;
  };
  adapters: {
    /**
     * The adapter's URL, e.g. "http://flocker/flocker-adapter".
     */
    [k: string]: string;
  };
}
export interface LegacyEndpoint {
  /**
   * Adapters run in list order before Docker.
   */
  pre?: AdapterName[];
  /**
   * Adapters run in list order after Docker.
   */
  post?: AdapterName[];
}
/**
 * One adapter as the admin API reports it (GET /adapters, GET /adapters/{name}, `powerstrip ls --json`).
 */
export interface AdapterInfo {
  name: AdapterName;
  /**
   * The image or the URL it was loaded from.
   */
  source: string;
  /**
   * url: loaded by URL; image: a container Powerstrip runs; legacy: a 2015 (v1) adapter.
   */
  kind: "url" | "image" | "legacy";
  state: "loading" | "ready" | "failed" | "unloading";
  /**
   * The hooks in force (empty until the handshake is done). Legacy hooks keep their 2015 glob paths.
   */
  hooks: AdapterHook[];
  priority: number;
  failurePolicy: "fail" | "ignore";
  timeoutMs: number;
  /**
   * When the adapter entered its current state.
   */
  since: string;
  /**
   * Why the adapter failed (state failed).
   */
  error?: string;
  /**
   * kind image: the container Powerstrip runs the adapter in, once it exists.
   */
  container?: {
    id: string;
    name: string;
  };
  protocolVersion: "1" | "2";
  /**
   * Loaded in shadow mode: hooks run, their effects are discarded and recorded.
   */
  shadow?: boolean;
  /**
   * kind image: true when its container was given the Docker engine socket (a loader image loaded with --allow-docker).
   */
  dockerSocket?: boolean;
  /**
   * none: the adapter does not ask for credential headers; withheld: it asks, the operator did not allow it; sent: it receives them.
   */
  credentials?: "none" | "withheld" | "sent";
}
export interface AdapterHook {
  method: HookMethod;
  path: string;
  stage: Stage;
}
/**
 * POST /adapters (`powerstrip load`): load an adapter from an image or a URL. Answered once the handshake is done and the hooks are live, or with an AdminError.
 */
export interface LoadRequest {
  /**
   * unix:///absolute/path.sock or http://host[:port][/path] (legacy adapters keep their 2015 URLs).
   */
  url?: string;
  /**
   * An image reference, pulled when missing.
   */
  image?: string;
  name?: AdapterName;
  /**
   * A 2015 (protocol v1) adapter: it gets v1 messages and needs explicit hooks.
   */
  legacy?: boolean;
  /**
   * For legacy adapters: "stage:METHOD /glob", e.g. "pre:POST /* /containers/create".
   *
   * @minItems 1
   */
  hooks?: string[];
  /**
   * Extra environment for an image adapter's container.
   */
  env?: {
    [k: string]: string;
  };
  /**
   * The Docker network mode of an image adapter's container (default none: adapters talk over their socket).
   */
  network?: string;
  /**
   * Overrides the priority the adapter declares.
   */
  priority?: number;
  /**
   * Shadow mode: the hooks are called but their replies have no effect; what they would have done is recorded in the trace and the metrics.
   */
  shadow?: boolean;
  /**
   * The operator allows this adapter to receive X-Registry-Auth, X-Registry-Config and Authorization headers, if it declares it needs them.
   */
  allowCredentials?: boolean;
  /**
   * The operator allows a loader image (label io.powerstrip.loader=true) to be given the Docker engine socket. Without it a loader image is refused (code NOT_ALLOWED); other images ignore it. Only for image adapters.
   */
  allowDocker?: boolean;
}
/**
 * Every non-2xx answer of the admin API: a one-line message for people and a stable code for programs.
 */
export interface AdminError {
  message: string;
  /**
   * e.g. NOT_FOUND, ALREADY_LOADED, HANDSHAKE_FAILED
   */
  code: string;
}
/**
 * One call of one hook, once it is over.
 */
export interface TraceHookCall {
  type: "hook";
  /**
   * When the call started.
   */
  time: string;
  /**
   * The client request's id: the same in the hook call the adapter received and in the proxy's log lines.
   */
  requestId: string;
  adapter: AdapterName;
  stage: Stage;
  /**
   * The pattern that matched, as declared (legacy adapters keep their globs).
   */
  hook: string;
  method: string;
  /**
   * The request path as the hook saw it, without the /vX.Y prefix or query.
   */
  path: string;
  /**
   * How long the adapter took to answer (or to fail).
   */
  durationMs: number;
  /**
   * allow / rewrite / deny (pre), pass / rewrite (post); failed: the failure policy failed the call closed; ignored-failure: it failed and was skipped (policy ignore, a streamed response, or shadow mode); would-deny / would-rewrite / would-fail: a shadow adapter's reply, not applied.
   */
  decision:
    | "allow"
    | "rewrite"
    | "deny"
    | "pass"
    | "failed"
    | "ignored-failure"
    | "would-deny"
    | "would-rewrite"
    | "would-fail";
  /**
   * The adapter is loaded in shadow mode: nothing it said took effect.
   */
  shadow: boolean;
  /**
   * deny / would-deny: the status the client got (or would have got); failed: the status of the error the client got.
   */
  status?: number;
  /**
   * deny / would-deny / failed: the message the client got (or would have got).
   */
  message?: string;
  /**
   * failed / ignored-failure / would-fail: what went wrong with the adapter.
   */
  failure?: {
    /**
     * overloaded: a shadow adapter already had too many calls in flight, so this one was skipped (not sent).
     */
    kind:
      | "timeout"
      | "unreachable"
      | "bad-status"
      | "not-json"
      | "invalid-reply"
      | "too-large"
      | "overloaded";
    message: string;
  };
  /**
   * Warnings the adapter returned.
   */
  warnings?: string[];
  /**
   * What the hook changed (or, shadow, would have changed), one line each: `body /HostConfig/Privileged: true → false`, `body +/Labels/team: "a"`, `body -/Env`, `query +all=1`, `query -filters`, `header +x-team: a`, `header -x-foo`, `path /a → /b`, `method GET → POST`, `status 200 → 403`.
   */
  changes?: string[];
}
/**
 * Events left out since the last message because this watcher did not read them fast enough (the proxy never waits for a watcher).
 */
export interface TraceDropped {
  type: "dropped";
  time: string;
  dropped: number;
}
