import { isIP } from "node:net";
import { ProxyError, ProxyErrorCode } from "./errors.js";

/** Where a socket listens or connects: a unix socket path, or a TCP host and port. */
export type Address = { kind: "unix"; path: string } | { kind: "tcp"; host: string; port: number };

/** Parses `unix:///absolute/path.sock` or `tcp://host:port` (IPv6 hosts in brackets). */
export function parseAddress(text: string): Address {
  const invalid = (why: string) =>
    new ProxyError(ProxyErrorCode.InvalidAddress, `invalid address ${JSON.stringify(text)}: ${why}`);
  if (text.startsWith("unix://")) {
    const path = text.slice("unix://".length);
    if (!path.startsWith("/")) throw invalid("a unix socket path must be absolute (unix:///path/to.sock)");
    return { kind: "unix", path };
  }
  if (text.startsWith("tcp://")) {
    const match = /^tcp:\/\/(\[[0-9a-fA-F:.]+\]|[^:/[\]]+):(\d{1,5})\/?$/.exec(text);
    if (!match) throw invalid("expected tcp://host:port");
    const port = Number(match[2]);
    if (port > 65535) throw invalid("port out of range");
    return { kind: "tcp", host: match[1]!.replace(/^\[|\]$/g, ""), port };
  }
  throw invalid("expected unix:///path.sock or tcp://host:port");
}

export function formatAddress(address: Address): string {
  if (address.kind === "unix") return `unix://${address.path}`;
  const host = isIP(address.host) === 6 ? `[${address.host}]` : address.host;
  return `tcp://${host}:${address.port}`;
}

/** True for names and addresses that can only be reached from this machine. */
export function isLoopbackHost(host: string): boolean {
  if (host === "localhost") return true;
  if (isIP(host) === 4) return host.startsWith("127.");
  if (isIP(host) === 6) return host === "::1";
  return false;
}
