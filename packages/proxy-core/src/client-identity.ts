import { isIP, type Socket } from "node:net";
import type { TLSSocket } from "node:tls";
import type { ClientIdentity } from "@powerstrip/protocol";
import { peerCredentials } from "./peer-credentials.js";

export type { ClientIdentity };

/** Connections accepted on TCP listeners (plain or TLS): unix ones, the hot path, are not marked. */
const tcpClients = new WeakSet<Socket>();

/** Called by a TCP listener for each connection it accepts, so the transport never has to be guessed. */
export function markTcpClient(socket: Socket): void {
  tcpClients.add(socket);
}

/**
 * Who is at the other end of a client connection, as hook calls carry it (`client`): the
 * transport; for unix sockets the peer's uid/gid/pid when the platform tells them (never
 * guessed); for TCP the peer's address; for TLS also the verified client certificate.
 *
 * Built once per connection, on its first hooked call: the pass-through path never pays for it.
 */
export function identifyClient(socket: Socket): ClientIdentity {
  if ((socket as TLSSocket).encrypted === true) {
    const identity: ClientIdentity = { transport: "tls", ...peerAddress(socket) };
    const certificate = verifiedCertificate(socket as TLSSocket);
    if (certificate !== undefined) identity.certificate = certificate;
    return identity;
  }
  if (tcpClients.has(socket)) return { transport: "tcp", ...peerAddress(socket) };
  const identity: ClientIdentity = { transport: "unix" };
  const credentials = peerCredentials(socket);
  if (credentials !== undefined) {
    identity.uid = credentials.uid;
    identity.gid = credentials.gid;
    if (credentials.pid > 0) identity.pid = credentials.pid;
  }
  return identity;
}

function peerAddress(socket: Socket): { address?: string } {
  const host = socket.remoteAddress;
  if (host === undefined || socket.remotePort === undefined) return {};
  return { address: `${isIP(host) === 6 ? `[${host}]` : host}:${socket.remotePort}` };
}

/** The client's certificate, only when the handshake verified it against the configured CA. */
function verifiedCertificate(socket: TLSSocket): ClientIdentity["certificate"] {
  if (!socket.authorized) return undefined;
  const x509 = socket.getPeerX509Certificate();
  if (x509 === undefined) return undefined;
  const certificate: NonNullable<ClientIdentity["certificate"]> = {
    subject: oneLineName(x509.subject),
    issuer: oneLineName(x509.issuer),
    fingerprint256: x509.fingerprint256,
  };
  const commonName = lastValue(x509.subject, "CN");
  if (commonName !== undefined) certificate.commonName = commonName;
  return certificate;
}

/**
 * Node prints a name one attribute per line, in certificate order (`C=…\nO=…\nCN=…`); the
 * one-line form is RFC 4514's, most specific first: `CN=alice,O=dev`. Values arrive escaped.
 */
function oneLineName(lines: string): string {
  return lines.split("\n").filter(Boolean).reverse().join(",");
}

/** The most specific value of an attribute (a name may repeat one; the last is the leaf's). */
function lastValue(lines: string, attribute: string): string | undefined {
  const prefix = `${attribute}=`;
  const found = lines
    .split("\n")
    .filter((line) => line.startsWith(prefix))
    .pop();
  return found?.slice(prefix.length);
}
