/** The protocol version this package describes; v1 is the 2015 legacy protocol. */
export const PROTOCOL_VERSION = "2";

/** The two endpoints every v2 adapter serves (HTTP/1.1 POST, JSON bodies). */
export const ADAPTER_ENDPOINTS = {
  handshake: "/powerstrip/handshake",
  hook: "/powerstrip/hook",
} as const;

/** What the proxy assumes when a handshake reply leaves a field out (the schemas' `default`s). */
export const HANDSHAKE_DEFAULTS = {
  priority: 1000,
  failurePolicy: "fail",
  timeoutMs: 2000,
  needsBody: true,
} as const;

/**
 * Hop-by-hop headers (RFC 9110 §7.6.1), plus whatever `Connection` names: the proxy removes them
 * from the headers a hook call shows.
 */
export const HOP_BY_HOP_HEADERS: readonly string[] = [
  "connection",
  "keep-alive",
  "proxy-connection",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
];

/** Headers the proxy owns: no rewrite may set or remove them (the schemas refuse it). */
export const PROXY_MANAGED_HEADERS: readonly string[] = ["host", "content-length", ...HOP_BY_HOP_HEADERS];

/**
 * Registry and API credentials. Hook calls leave them out, and rewrites may not touch them, unless
 * the adapter declares `credentials: true` in its handshake and the operator loaded it with
 * `--allow-credentials`.
 */
export const CREDENTIAL_HEADERS: readonly string[] = [
  "authorization",
  "x-registry-auth",
  "x-registry-config",
];

/**
 * The request headers a pre-hook rewrite may set or remove: an allowlist, so a rewrite can neither
 * redirect the engine nor claim another client (`host`, `forwarded`, `x-forwarded-*`), change the
 * framing, nor reach Docker's session headers. `content-type` goes with a body an adapter rewrites,
 * `user-agent` and `x-meta-*` (the prefix Docker users give their config.json `HttpHeaders`, which
 * authorization plugins read) carry information. The CREDENTIAL_HEADERS are editable too, by an
 * adapter that receives them. The schema's `editableRequestHeaderName` is built from this list
 * (see editableRequestHeaderPattern; a unit test keeps them equal).
 */
export const EDITABLE_REQUEST_HEADERS = {
  /** Exact names. */
  names: ["content-type", "user-agent"] as readonly string[],
  /** Any name that starts with one of these and has more after it. */
  prefixes: ["x-meta-"] as readonly string[],
} as const;

/** A lower-case header name token (RFC 9110 §5.1). */
const TOKEN = "[a-z0-9!#$%&'*+.^_`|~-]";

/** The schema's `editableRequestHeaderName` pattern, from EDITABLE_REQUEST_HEADERS and CREDENTIAL_HEADERS. */
export function editableRequestHeaderPattern(): string {
  const names = [...EDITABLE_REQUEST_HEADERS.names, ...CREDENTIAL_HEADERS].map(escapeRegExp);
  const prefixes = EDITABLE_REQUEST_HEADERS.prefixes.map((p) => `${escapeRegExp(p)}${TOKEN}+`);
  return `^(?:${[...names, ...prefixes].join("|")})$`;
}

/**
 * True when a pre-hook may set or remove the request header `name` (lower-case): one of
 * EDITABLE_REQUEST_HEADERS, or a CREDENTIAL_HEADERS name for an adapter that receives credentials.
 */
export function isEditableRequestHeader(name: string, grants: { credentials: boolean }): boolean {
  if (CREDENTIAL_HEADERS.includes(name)) return grants.credentials;
  if (EDITABLE_REQUEST_HEADERS.names.includes(name)) return true;
  return EDITABLE_REQUEST_HEADERS.prefixes.some(
    (prefix) => name.length > prefix.length && name.startsWith(prefix) && TOKEN_NAME.test(name),
  );
}

const TOKEN_NAME = new RegExp(`^${TOKEN}+$`);

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
