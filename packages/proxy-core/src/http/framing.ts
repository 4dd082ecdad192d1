import { ProxyError, ProxyErrorCode } from "../errors.js";
import type { RequestHead, ResponseHead } from "./head.js";

/**
 * How a message body ends (RFC 9112 §6.3): no body, a fixed length, chunked coding, or (responses
 * only) the connection closing.
 */
export type Framing =
  | { kind: "none" }
  | { kind: "length"; length: number }
  | { kind: "chunked" }
  | { kind: "close" };

const NONE: Framing = { kind: "none" };
const CHUNKED: Framing = { kind: "chunked" };
const CLOSE: Framing = { kind: "close" };

function ambiguous(message: string): ProxyError {
  return new ProxyError(ProxyErrorCode.AmbiguousFraming, message);
}

function parseLength(values: string[], who: string): number {
  if (values.length > 1) throw ambiguous(`${who} has more than one Content-Length header`);
  const value = values[0]!;
  if (!/^\d{1,15}$/.test(value))
    throw ambiguous(`${who} has an invalid Content-Length: ${JSON.stringify(value)}`);
  return Number(value);
}

function endsWithChunked(transferEncoding: string): boolean {
  const codings = transferEncoding.split(",");
  return codings[codings.length - 1]!.trim().toLowerCase() === "chunked";
}

/**
 * The request's body framing. Refuses every shape that two HTTP parsers could read differently,
 * the raw material of request smuggling: Content-Length with Transfer-Encoding, several
 * Content-Length headers, a Transfer-Encoding whose last coding is not chunked.
 */
export function requestFraming(head: RequestHead): Framing {
  const { transferEncoding, contentLengths } = head;
  if (transferEncoding !== null) {
    if (contentLengths.length > 0)
      throw ambiguous("a request may not carry both Content-Length and Transfer-Encoding");
    if (!endsWithChunked(transferEncoding)) {
      throw ambiguous(`unsupported Transfer-Encoding: ${JSON.stringify(transferEncoding)}`);
    }
    return CHUNKED;
  }
  if (contentLengths.length === 0) return NONE;
  const length = parseLength(contentLengths, "the request");
  return length === 0 ? NONE : { kind: "length", length };
}

/** The response's body framing, which depends on the request's method (RFC 9112 §6.3). */
export function responseFraming(requestMethod: string, head: ResponseHead): Framing {
  const { status } = head;
  if (requestMethod === "HEAD" || status === 204 || status === 304 || (status >= 100 && status < 200))
    return NONE;
  if (head.transferEncoding !== null) {
    return endsWithChunked(head.transferEncoding) ? CHUNKED : CLOSE;
  }
  if (head.contentLengths.length > 0) {
    const length = parseLength(head.contentLengths, "the engine's response");
    return length === 0 ? NONE : { kind: "length", length };
  }
  return CLOSE;
}
