import { basename } from "node:path";
import { type AdapterEndpoint, isLoopbackHost } from "@powerstrip/proxy-core";
import { AdapterHostError, AdapterHostErrorCode } from "./errors.js";

/** Where an adapter listens, as parsed from its URL. */
export type AdapterLocation =
  | { kind: "unix"; socketPath: string }
  | { kind: "tcp"; host: string; port: number; path: string };

const HOW = "adapters live on this host: use unix:///absolute/path.sock or http://127.0.0.1:PORT";

/**
 * Parses an adapter URL: `unix:///absolute/path.sock`, or `http://` on loopback (`127.0.0.1`,
 * `localhost`, `[::1]`) with an optional port (default 80) and, for legacy adapters, a path.
 * Anything else is refused with INVALID_URL saying why.
 */
export function parseAdapterUrl(url: string): AdapterLocation {
  const invalid = (why: string) =>
    new AdapterHostError(
      AdapterHostErrorCode.InvalidUrl,
      `invalid adapter URL ${JSON.stringify(url)}: ${why}`,
    );
  if (url.startsWith("unix://")) {
    const socketPath = url.slice("unix://".length);
    if (!socketPath.startsWith("/"))
      throw invalid("a unix socket path must be absolute (unix:///path/to.sock)");
    if (/\s/.test(socketPath)) throw invalid("a unix socket path cannot contain whitespace");
    return { kind: "unix", socketPath };
  }
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw invalid(HOW);
  }
  if (parsed.protocol !== "http:") throw invalid(HOW);
  if (parsed.username || parsed.password) throw invalid("credentials in an adapter URL are not supported");
  if (parsed.search || parsed.hash) throw invalid("an adapter URL has no query or fragment");
  const host = parsed.hostname.replace(/^\[|\]$/g, "");
  if (!isLoopbackHost(host)) {
    throw new AdapterHostError(
      AdapterHostErrorCode.InvalidUrl,
      `adapter URL ${url} is not on this host: ${HOW} (or [::1], localhost)`,
    );
  }
  return { kind: "tcp", host, port: parsed.port === "" ? 80 : Number(parsed.port), path: parsed.pathname };
}

/** The endpoint the proxy POSTs hook calls to: a fixed path for v2, the URL's own path for v1. */
export function hookEndpoint(location: AdapterLocation, path: string): AdapterEndpoint {
  return location.kind === "unix"
    ? { socketPath: location.socketPath, path }
    : { host: location.host, port: location.port, path };
}

/** A current (v2) adapter serves its endpoints at the root: its URL carries no path. */
export function assertNoPath(location: AdapterLocation, url: string): void {
  if (location.kind === "tcp" && location.path !== "/") {
    throw new AdapterHostError(
      AdapterHostErrorCode.InvalidUrl,
      `invalid adapter URL ${JSON.stringify(url)}: a current adapter serves /powerstrip/handshake and /powerstrip/hook at the root, so its URL has no path (only 2015 adapters, loaded with --legacy, take one)`,
    );
  }
}

/**
 * A name for a legacy adapter loaded without one: the socket's file name without its extension
 * (`unix:///run/flocker.sock` → `flocker`), or `legacy-PORT` for TCP.
 */
export function deriveLegacyName(location: AdapterLocation): string {
  if (location.kind === "tcp") return `legacy-${location.port}`;
  const file = basename(location.socketPath).replace(/\.[^.]*$/, "");
  const name = file
    .toLowerCase()
    .replace(/[^a-z0-9_.-]+/g, "-")
    .replace(/^[^a-z0-9]+/, "")
    .slice(0, 63);
  return name === "" ? "legacy" : name;
}
