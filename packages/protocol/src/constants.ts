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
