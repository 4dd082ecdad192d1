import { X509Certificate } from "node:crypto";
import { readFile } from "node:fs/promises";
import type { Socket } from "node:net";
import { createSecureContext, createServer, type Server, type TlsOptions } from "node:tls";
import { ProxyError, ProxyErrorCode } from "./errors.js";

/**
 * TLS for the TCP listeners, modelled on `dockerd --tlsverify`: the proxy's certificate and key,
 * and the CA that client certificates must chain to. With `ca`, every client must present a
 * certificate issued by it, or the handshake fails; without it clients are not verified, which
 * only a loopback listener accepts.
 */
export interface TlsListenOptions {
  /** PEM: the proxy's certificate (chain). */
  cert: string | Buffer;
  /** PEM: its private key. */
  key: string | Buffer;
  /** PEM: the CA(s) client certificates must be issued by. Only these: the public roots are not trusted. */
  ca?: string | Buffer;
}

/** Paths of the PEM files, as the daemon's `--tlscert`, `--tlskey` and `--tlscacert` give them. */
export interface TlsFiles {
  cert: string;
  key: string;
  ca?: string;
}

/** A client that has not finished its handshake by then is dropped (Node's default is 120 s). */
const HANDSHAKE_TIMEOUT_MS = 10_000;

/** Reads the PEM files; one that cannot be read is an INVALID_TLS error naming its flag. */
export async function loadTlsFiles(files: TlsFiles): Promise<TlsListenOptions> {
  const read = async (path: string, flag: string) => {
    try {
      return await readFile(path);
    } catch (error) {
      const reason = (error as NodeJS.ErrnoException).code ?? String(error);
      throw new ProxyError(ProxyErrorCode.InvalidTls, `cannot read ${flag} ${path} (${reason})`, {
        cause: error,
      });
    }
  };
  const options: TlsListenOptions = {
    cert: await read(files.cert, "--tlscert"),
    key: await read(files.key, "--tlskey"),
  };
  if (files.ca !== undefined) options.ca = await read(files.ca, "--tlscacert");
  return options;
}

/** True when clients must present a certificate the configured CA issued. */
export function verifiesClients(options: TlsListenOptions): boolean {
  return options.ca !== undefined;
}

/** A TLS server, and a way to drop the connections still in their handshake. */
export interface TlsServer {
  server: Server;
  /**
   * Destroys connections that have not finished their handshake. They are in no connection set
   * yet, so without this a client that connects and says nothing holds a closing server open
   * until the handshake timeout.
   */
  dropHandshakes(): void;
}

/**
 * A TLS server over the same socket options as the plain listeners (half-open, no delay): the
 * connections it hands out are `TLSSocket`s, which the data path treats like any socket.
 * Bad PEM, or a key that does not match the certificate, is an INVALID_TLS error now, not at the
 * first client.
 */
export function createTlsServer(
  options: TlsListenOptions,
  onConnection: (socket: Socket) => void,
): TlsServer {
  const verify = verifiesClients(options);
  const tlsOptions: TlsOptions = {
    cert: options.cert,
    key: options.key,
    minVersion: "TLSv1.2",
    requestCert: verify,
    rejectUnauthorized: verify,
    handshakeTimeout: HANDSHAKE_TIMEOUT_MS,
  };
  if (options.ca !== undefined) tlsOptions.ca = options.ca;
  try {
    // Node takes a CA file without a certificate in it as "trust nobody": say so now instead.
    if (options.ca !== undefined) checkCertificates(options.ca);
    createSecureContext(tlsOptions);
  } catch (error) {
    throw new ProxyError(
      ProxyErrorCode.InvalidTls,
      `invalid TLS settings: ${(error as Error).message} (check --tlscert, --tlskey and --tlscacert)`,
      { cause: error },
    );
  }
  // Raw connections by peer address and port until their handshake is done (or they close).
  const handshaking = new Map<string, Socket>();
  const peerOf = (socket: Socket) => `${socket.remoteAddress}:${socket.remotePort}`;
  // net.Server options pass through tls.createServer.
  const server = createServer(
    { ...tlsOptions, allowHalfOpen: true, noDelay: true, pauseOnConnect: false },
    (socket) => {
      handshaking.delete(peerOf(socket));
      onConnection(socket);
    },
  );
  server.on("connection", (raw: Socket) => {
    const peer = peerOf(raw);
    handshaking.set(peer, raw);
    raw.once("close", () => {
      if (handshaking.get(peer) === raw) handshaking.delete(peer);
    });
  });
  // A client without a certificate, or with one from another CA, fails here: the socket is
  // already destroyed, there is nothing to answer.
  server.on("tlsClientError", () => {});
  return {
    server,
    dropHandshakes() {
      for (const raw of handshaking.values()) raw.destroy();
      handshaking.clear();
    },
  };
}

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

function checkCertificates(pem: string | Buffer): void {
  const blocks = pem.toString().match(PEM_CERTIFICATE) ?? [];
  if (blocks.length === 0) throw new Error("the CA file holds no PEM certificate");
  for (const block of blocks) new X509Certificate(block);
}
