import { ProtocolError, ProtocolErrorCode } from "./errors.js";

/** One segment of a hook path: a literal, a `{param}`, or `*` (any one segment). */
export type PatternSegment =
  | { readonly kind: "literal"; readonly value: string }
  | { readonly kind: "param"; readonly name: string }
  | { readonly kind: "wildcard" };

/** A parsed `METHOD /path` hook pattern. */
export interface HookPattern {
  /** Upper-case method, or `*` for any. */
  readonly method: string;
  /** The path as written, e.g. `/containers/{id}/start`. */
  readonly path: string;
  readonly segments: readonly PatternSegment[];
}

// The grammar of the schemas' hookMethod / hookPath definitions, piece by piece.
const METHOD = /^(?:[A-Z][A-Z_-]*|\*)$/;
const PARAM = /^\{([A-Za-z_][A-Za-z0-9_]*)\}$/;
const LITERAL = /^[A-Za-z0-9._~:@!$&'()+,;=-]+$/;
const VERSION_PREFIX = /^\/v([0-9]+(?:\.[0-9]+)*)(?=\/|$)/;

/** Parses `"POST /containers/{id}/start"`; throws ProtocolError INVALID_PATTERN saying what is wrong. */
export function parseHookPattern(pattern: string): HookPattern {
  const space = pattern.indexOf(" ");
  if (space === -1) fail(pattern, 'must be a method, one space and a path, e.g. "POST /containers/create"');
  const method = pattern.slice(0, space);
  const path = pattern.slice(space + 1);
  if (!METHOD.test(method))
    fail(pattern, `method ${JSON.stringify(method)} must be upper-case (e.g. POST) or *`);
  return { method, path, segments: parseHookPath(path, pattern) };
}

/** Parses the path half of a pattern, e.g. `/containers/{id}/start`. */
export function parseHookPath(path: string, pattern = path): readonly PatternSegment[] {
  if (!path.startsWith("/")) fail(pattern, `path ${JSON.stringify(path)} must start with /`);
  if (VERSION_PREFIX.test(path)) {
    fail(
      pattern,
      `path ${JSON.stringify(path)} must be written without the /vX.Y prefix (it matches with and without one)`,
    );
  }
  const seen = new Set<string>();
  return path
    .slice(1)
    .split("/")
    .map((part): PatternSegment => {
      if (part === "") fail(pattern, `path ${JSON.stringify(path)} has an empty segment`);
      if (part === "*") return { kind: "wildcard" };
      const param = PARAM.exec(part);
      if (param !== null) {
        const name = param[1]!;
        if (seen.has(name)) fail(pattern, `{${name}} appears twice`);
        seen.add(name);
        return { kind: "param", name };
      }
      if (part === "." || part === ".." || !LITERAL.test(part)) {
        fail(pattern, `segment ${JSON.stringify(part)} must be a literal, a {param} or *`);
      }
      return { kind: "literal", value: part };
    });
}

/** `/v1.41/containers/json?all=1` → `{ path: "/containers/json", apiVersion: "1.41", query: "all=1" }`. */
export function splitRequestTarget(target: string): {
  path: string;
  apiVersion: string | null;
  query: string;
} {
  const q = target.indexOf("?");
  const rawPath = q === -1 ? target : target.slice(0, q);
  const query = q === -1 ? "" : target.slice(q + 1);
  const version = /^\/v([0-9]+(?:\.[0-9]+)*)(?=\/)/.exec(rawPath);
  if (version === null) return { path: rawPath, apiVersion: null, query };
  return { path: rawPath.slice(version[0].length), apiVersion: version[1]!, query };
}

/**
 * The path Docker's router sees for a raw request path (its bytes read as latin1, as the proxy
 * reads heads), without the version prefix. Go's net/http decodes every `%XX` (`%2F` included)
 * before the router matches, so to the engine `/containers/%63reate` and
 * `/%76%31.41/containers%2Fcreate` are `/containers/create`. Hooks match this path, so no escape
 * takes a call past them. Null for a malformed escape: the engine refuses it with 400, routing nothing.
 */
export function routedPath(rawPath: string): { path: string; apiVersion: string | null } | null {
  let decoded = rawPath;
  if (rawPath.includes("%")) {
    if (!/^(?:[^%]|%[0-9A-Fa-f]{2})*$/.test(rawPath)) return null;
    const bytes: number[] = [];
    for (let i = 0; i < rawPath.length; i++) {
      const code = rawPath.charCodeAt(i);
      if (code === 0x25) {
        bytes.push(Number.parseInt(rawPath.slice(i + 1, i + 3), 16));
        i += 2;
      } else if (code <= 0xff) bytes.push(code);
      else bytes.push(...utf8.encode(rawPath[i]!));
    }
    // Bytes that are not UTF-8 become U+FFFD: no literal segment matches them, as none would in Go.
    decoded = new TextDecoder().decode(new Uint8Array(bytes));
  }
  const version = VERSION_PREFIX.exec(decoded);
  if (version === null || decoded.length === version[0].length) return { path: decoded, apiVersion: null };
  return { path: decoded.slice(version[0].length), apiVersion: version[1]! };
}

const utf8 = new TextEncoder();

/**
 * Matches a path written without the version prefix (see splitRequestTarget) against a pattern's
 * path. Returns the `{param}` values, percent-decoded (unless `decoded` says the path already
 * is, see routedPath), or null. A trailing slash is not significant; `{param}` and `*` never match
 * an empty segment.
 */
export function matchHookPath(
  pattern: Pick<HookPattern, "segments">,
  path: string,
  options: { decoded?: boolean } = {},
): Record<string, string> | null {
  const trimmed = path.length > 1 && path.endsWith("/") ? path.slice(0, -1) : path;
  if (!trimmed.startsWith("/")) return null;
  const parts = trimmed.slice(1).split("/");
  if (parts.length !== pattern.segments.length) return null;
  const params: Array<[string, string]> = [];
  for (const [index, segment] of pattern.segments.entries()) {
    const part = parts[index]!;
    if (segment.kind === "literal") {
      if (part !== segment.value) return null;
    } else if (part === "") {
      return null;
    } else if (segment.kind === "param") {
      params.push([segment.name, options.decoded ? part : safeDecode(part)]);
    }
  }
  // fromEntries defines own properties: a {__proto__} parameter stays plain data.
  return Object.fromEntries(params);
}

/** True when a hook's method (upper-case or `*`) covers a request's method. */
export function matchHookMethod(pattern: Pick<HookPattern, "method">, method: string): boolean {
  return pattern.method === "*" || pattern.method === method;
}

function safeDecode(part: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    return part;
  }
}

function fail(pattern: string, reason: string): never {
  throw new ProtocolError(
    ProtocolErrorCode.InvalidPattern,
    `hook pattern ${JSON.stringify(pattern)}: ${reason}`,
  );
}
