import { ProxyError, ProxyErrorCode } from "../errors.js";

/** Largest request or response head we accept; Docker's own heads are a few hundred bytes. */
export const MAX_HEAD_BYTES = 64 * 1024;

const HEAD_END = Buffer.from("\r\n\r\n");

/**
 * A header list as it came off the wire: [name, value, name, value, …], original case and order,
 * so a head that needs no change is forwarded byte for byte.
 */
export type RawHeaders = string[];

/** What one pass over a head learns about how the message is framed and the connection kept. */
export interface HeadFacts {
  /** Every Content-Length value seen (more than one is an attack or a bug). */
  contentLengths: string[];
  /** Transfer-Encoding values, joined in order; null when absent. */
  transferEncoding: string | null;
  /** Lower-cased tokens of the Connection header(s). */
  connectionTokens: string[];
  /** The Upgrade header's value; null when absent. */
  upgrade: string | null;
  /** True when a header must not be forwarded as is (hop-by-hop, or named by Connection). */
  hasHopByHop: boolean;
}

export interface RequestHead extends HeadFacts {
  method: string;
  target: string;
  /** 0 for HTTP/1.0, 1 for HTTP/1.1. */
  minorVersion: number;
  headers: RawHeaders;
  /** The head's bytes exactly as received, terminator included. */
  raw: Buffer;
}

export interface ResponseHead extends HeadFacts {
  status: number;
  statusText: string;
  minorVersion: number;
  headers: RawHeaders;
  raw: Buffer;
}

/** Finds the end of a head in `buf` from `start`; returns the index after the blank line, or -1. */
export function findHeadEnd(buf: Buffer, start = 0): number {
  const at = buf.indexOf(HEAD_END, start);
  return at === -1 ? -1 : at + 4;
}

// RFC 9110 token characters, as a lookup table for speed.
const TOKEN = new Uint8Array(128);
for (const c of "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ") {
  TOKEN[c.charCodeAt(0)] = 1;
}

function isToken(s: string): boolean {
  if (s.length === 0) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c > 127 || TOKEN[c] !== 1) return false;
  }
  return true;
}

/** Field values may hold visible characters, spaces and tabs, and obs-text; never CR, LF or NUL. */
function isFieldValue(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if ((c < 0x20 && c !== 0x09) || c === 0x7f) return false;
  }
  return true;
}

function bad(message: string): ProxyError {
  return new ProxyError(ProxyErrorCode.BadRequest, message);
}

const HOP_BY_HOP = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "te",
  "trailer",
  "upgrade",
  "proxy-authenticate",
  "proxy-authorization",
]);

/** Headers that frame the message: a Connection header naming them must not make us drop them. */
const FRAMING = new Set(["content-length", "transfer-encoding", "host"]);

/** Parses header lines (everything after the start line) and gathers the framing facts. */
function parseHeaderLines(lines: string[], from: number, headers: RawHeaders, facts: HeadFacts): void {
  for (let i = from; i < lines.length; i++) {
    const line = lines[i]!;
    if (line.length === 0) continue;
    const first = line.charCodeAt(0);
    if (first === 0x20 || first === 0x09) throw bad("obsolete line folding in a header is not allowed");
    const colon = line.indexOf(":");
    if (colon <= 0) throw bad(`malformed header line: ${JSON.stringify(line.slice(0, 80))}`);
    const name = line.slice(0, colon);
    if (!isToken(name)) throw bad(`invalid header name: ${JSON.stringify(name.slice(0, 80))}`);
    const value = line.slice(colon + 1).trim();
    if (!isFieldValue(value)) throw bad(`invalid characters in header ${name}`);
    headers.push(name, value);
    noteFramingFact(name.toLowerCase(), value, facts);
  }
  if (facts.connectionTokens.length > 0) {
    // A header named by Connection is hop-by-hop too (RFC 9110 §7.6.1).
    for (let i = 0; i < headers.length; i += 2) {
      const lower = headers[i]!.toLowerCase();
      if (isNamedByConnection(lower, facts.connectionTokens)) facts.hasHopByHop = true;
    }
  }
}

function isNamedByConnection(lower: string, connectionTokens: readonly string[]): boolean {
  return connectionTokens.length > 0 && !FRAMING.has(lower) && connectionTokens.includes(lower);
}

/** True for a (lower-cased) header that is hop-by-hop, by its name or by the Connection tokens. */
export function isHopByHop(lower: string, connectionTokens: readonly string[]): boolean {
  return HOP_BY_HOP.has(lower) || isNamedByConnection(lower, connectionTokens);
}

function noteFramingFact(lower: string, value: string, facts: HeadFacts): void {
  switch (lower) {
    case "content-length":
      facts.contentLengths.push(value);
      return;
    case "transfer-encoding":
      facts.transferEncoding =
        facts.transferEncoding === null ? value : `${facts.transferEncoding}, ${value}`;
      return;
    case "connection":
      for (const token of value.split(",")) {
        const t = token.trim().toLowerCase();
        if (t) facts.connectionTokens.push(t);
      }
      facts.hasHopByHop = true;
      return;
    case "upgrade":
      facts.upgrade = value;
      facts.hasHopByHop = true;
      return;
    default:
      if (HOP_BY_HOP.has(lower)) facts.hasHopByHop = true;
  }
}

function emptyFacts(): HeadFacts {
  return {
    contentLengths: [],
    transferEncoding: null,
    connectionTokens: [],
    upgrade: null,
    hasHopByHop: false,
  };
}

function parseVersion(version: string): number {
  if (version === "HTTP/1.1") return 1;
  if (version === "HTTP/1.0") return 0;
  throw bad(`unsupported HTTP version: ${JSON.stringify(version.slice(0, 20))}`);
}

/** Parses a complete request head (`raw` ends with the blank line). Throws ProxyError on bad input. */
export function parseRequestHead(raw: Buffer): RequestHead {
  const lines = raw.toString("latin1", 0, raw.length - 4).split("\r\n");
  const requestLine = lines[0]!;
  const parts = requestLine.split(" ");
  if (parts.length !== 3) throw bad(`malformed request line: ${JSON.stringify(requestLine.slice(0, 80))}`);
  const [method, target, version] = parts as [string, string, string];
  if (!isToken(method)) throw bad(`invalid method: ${JSON.stringify(method.slice(0, 20))}`);
  if (target.length === 0 || !isFieldValue(target) || target.includes("\t")) {
    throw bad("invalid request target");
  }
  const minorVersion = parseVersion(version);
  for (const line of lines) {
    if (line.includes("\n") || line.includes("\r")) throw bad("bare CR or LF in the request head");
  }
  const head: RequestHead = { method, target, minorVersion, headers: [], raw, ...emptyFacts() };
  parseHeaderLines(lines, 1, head.headers, head);
  return head;
}

/** Parses a complete response head from the engine. */
export function parseResponseHead(raw: Buffer): ResponseHead {
  const lines = raw.toString("latin1", 0, raw.length - 4).split("\r\n");
  const statusLine = lines[0]!;
  const match = /^(HTTP\/1\.[01]) (\d{3})(?: (.*))?$/.exec(statusLine);
  if (!match) {
    throw new ProxyError(
      ProxyErrorCode.BadUpstreamResponse,
      `the Docker engine sent a malformed status line: ${JSON.stringify(statusLine.slice(0, 80))}`,
    );
  }
  const head: ResponseHead = {
    status: Number(match[2]),
    statusText: match[3] ?? "",
    minorVersion: match[1] === "HTTP/1.1" ? 1 : 0,
    headers: [],
    raw,
    ...emptyFacts(),
  };
  try {
    parseHeaderLines(lines, 1, head.headers, head);
  } catch (error) {
    throw new ProxyError(ProxyErrorCode.BadUpstreamResponse, `the Docker engine sent a malformed header`, {
      cause: error,
    });
  }
  return head;
}

/** Case-insensitive lookup of the first value of a header. */
export function headerValue(headers: RawHeaders, lowerName: string): string | undefined {
  for (let i = 0; i < headers.length; i += 2) {
    if (headers[i]!.toLowerCase() === lowerName) return headers[i + 1];
  }
  return undefined;
}

/**
 * Serializes a head, dropping hop-by-hop headers (and those Connection names) and appending
 * `extra` lines such as `Connection: Upgrade`.
 */
export function serializeHead(
  startLine: string,
  head: { headers: RawHeaders; connectionTokens: readonly string[] },
  extra: string[],
): Buffer {
  let out = `${startLine}\r\n`;
  const { headers, connectionTokens } = head;
  for (let i = 0; i < headers.length; i += 2) {
    const lower = headers[i]!.toLowerCase();
    if (isHopByHop(lower, connectionTokens)) continue;
    out += `${headers[i]}: ${headers[i + 1]}\r\n`;
  }
  for (const line of extra) out += `${line}\r\n`;
  out += "\r\n";
  return Buffer.from(out, "latin1");
}
