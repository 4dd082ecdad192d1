/** Stable codes for every failure the data path reports. Callers match on `code`, never on text. */
export const ProxyErrorCode = {
  BadRequest: "BAD_REQUEST",
  AmbiguousFraming: "AMBIGUOUS_FRAMING",
  HeadTooLarge: "HEAD_TOO_LARGE",
  BodyTooLarge: "BODY_TOO_LARGE",
  UpstreamUnavailable: "UPSTREAM_UNAVAILABLE",
  UpstreamFailed: "UPSTREAM_FAILED",
  BadUpstreamResponse: "BAD_UPSTREAM_RESPONSE",
  InvalidAddress: "INVALID_ADDRESS",
  InsecureListen: "INSECURE_LISTEN",
  AddressInUse: "ADDRESS_IN_USE",
  InvalidTls: "INVALID_TLS",
} as const;
export type ProxyErrorCode = (typeof ProxyErrorCode)[keyof typeof ProxyErrorCode];

/** The HTTP status a client gets for each failure that happens before a response has started. */
const statusByCode: Record<ProxyErrorCode, number> = {
  BAD_REQUEST: 400,
  AMBIGUOUS_FRAMING: 400,
  HEAD_TOO_LARGE: 431,
  BODY_TOO_LARGE: 413,
  UPSTREAM_UNAVAILABLE: 503,
  UPSTREAM_FAILED: 502,
  BAD_UPSTREAM_RESPONSE: 502,
  INVALID_ADDRESS: 500,
  INSECURE_LISTEN: 500,
  ADDRESS_IN_USE: 500,
  INVALID_TLS: 500,
};

export class ProxyError extends Error {
  override readonly name = "ProxyError";
  readonly code: ProxyErrorCode;
  readonly status: number;

  constructor(code: ProxyErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.status = statusByCode[code];
  }
}
