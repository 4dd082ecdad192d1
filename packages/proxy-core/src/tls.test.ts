import { X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import { connect, type Socket } from "node:net";
import { connect as tlsConnect } from "node:tls";
import { makeTestCertificates, type TestCertificates } from "@powerstrip/test-support";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { identifyClient } from "./client-identity.js";
import { ProxyErrorCode } from "./errors.js";
import { type Listener, listen } from "./listeners.js";
import { loadTlsFiles, type TlsListenOptions } from "./tls.js";

/**
 * TCP listeners with TLS, as `--tlsverify` sets them up: a client must present a certificate
 * issued by the configured CA, or its handshake fails before any byte reaches the data path.
 */
let certs: TestCertificates;
const served: Socket[] = [];
let verifying: TlsListenOptions;
const unix = { socketMode: 0o660, socketGroup: undefined };

beforeAll(async () => {
  certs = await makeTestCertificates(["alice"]);
  verifying = await loadTlsFiles({ ca: certs.ca, cert: certs.server.cert, key: certs.server.key });
});
afterAll(() => certs?.close());

/** A loopback TLS listener whose accepted sockets are handed to the test. */
async function tlsListener(tls: TlsListenOptions, host = "127.0.0.1") {
  const accepted: Socket[] = [];
  const waiting: ((socket: Socket) => void)[] = [];
  const listener = await listen({ kind: "tcp", host, port: 0 }, { ...unix, tls }, (socket) => {
    // Half-open sockets do not close by themselves when the client goes: the test's cleanup does.
    served.push(socket);
    const next = waiting.shift();
    if (next) next(socket);
    else accepted.push(socket);
  });
  const port = Number(listener.address.split(":").pop());
  const nextSocket = () =>
    new Promise<Socket>((resolve) => {
      const ready = accepted.shift();
      if (ready) resolve(ready);
      else waiting.push(resolve);
    });
  return { listener, port, accepted, nextSocket };
}

/** Connects as a TLS client; resolves once the session is usable or rejects with the failure. */
function client(port: number, files: { cert?: string; key?: string } = {}) {
  const socket = tlsConnect({
    host: "127.0.0.1",
    port,
    servername: "localhost",
    ca: readFileSync(certs.ca),
    ...(files.cert ? { cert: readFileSync(files.cert), key: readFileSync(files.key!) } : {}),
  });
  // TLS 1.3 servers judge the client certificate after the client's handshake is done: a refusal
  // arrives as an alert on the first read, not on 'secureConnect'. A round trip settles it.
  const settled = new Promise<void>((resolve, reject) => {
    socket.once("secureConnect", () => resolve());
    socket.once("error", reject);
  });
  return { socket, settled };
}

function readAll(socket: Socket): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = "";
    socket.on("data", (chunk: Buffer) => {
      text += chunk.toString();
    });
    socket.once("end", () => resolve(text));
    socket.once("error", reject);
  });
}

describe("TLS listeners (--tlsverify)", () => {
  let open: Listener[] = [];
  afterAll(async () => {
    for (const socket of served) socket.destroy();
    await Promise.all(open.map((l) => l.close()));
    open = [];
  });

  it("serve a client whose certificate the CA issued, and tell who it is", async () => {
    const { listener, port, nextSocket } = await tlsListener(verifying);
    open.push(listener);
    const { socket, settled } = client(port, certs.clients.alice!);
    await settled;
    const served = await nextSocket();
    const identity = identifyClient(served);
    const issued = new X509Certificate(readFileSync(certs.clients.alice!.cert));
    expect(identity).toEqual({
      transport: "tls",
      address: `127.0.0.1:${socket.localPort}`,
      certificate: {
        commonName: "alice",
        subject: "CN=alice,O=powerstrip-test",
        issuer: "CN=ca,O=powerstrip-test",
        fingerprint256: issued.fingerprint256,
      },
    });
    socket.destroy();
  });

  it("keep a half-closed connection writable both ways, as docker run -i needs", async () => {
    const { listener, port, nextSocket } = await tlsListener(verifying);
    open.push(listener);
    const { socket, settled } = client(port, certs.clients.alice!);
    await settled;
    const served = await nextSocket();
    const got = readAll(served);
    socket.end("stdin, then EOF");
    // The server has seen the client's end, and may still answer on the same connection.
    expect(await got).toBe("stdin, then EOF");
    const answer = readAll(socket);
    served.end("output after the client's EOF");
    expect(await answer).toBe("output after the client's EOF");
  });

  it.each([
    ["no certificate", {}],
    ["a certificate from another CA", "intruder"],
  ] as const)("refuse a client with %s at the handshake", async (_, which) => {
    const { listener, port, accepted } = await tlsListener(verifying);
    open.push(listener);
    const files = which === "intruder" ? certs.intruder : which;
    const { socket, settled } = client(port, files);
    const failure = settled.then(
      () =>
        new Promise<Error>((resolve) => {
          socket.once("error", resolve);
          socket.once("end", () => resolve(new Error("closed without an alert")));
          socket.write("GET /_ping HTTP/1.1\r\nHost: x\r\n\r\n");
        }),
      (error: Error) => error,
    );
    expect((await failure).message).toMatch(/certificate required|unknown ca|alert/i);
    expect(accepted).toHaveLength(0); // nothing reached the data path
  });

  it("close without waiting for a client that never finishes its handshake", async () => {
    const { listener, port } = await tlsListener(verifying);
    const silent = connect(port, "127.0.0.1");
    await new Promise((resolve) => silent.once("connect", resolve));
    const closed = await Promise.race([
      listener.close().then(() => "closed"),
      new Promise((resolve) => setTimeout(resolve, 2_000, "still open")),
    ]);
    expect(closed).toBe("closed");
    silent.destroy();
  });

  it("may listen beyond loopback when it verifies clients; without a CA it may not", async () => {
    const wide = await listen(
      { kind: "tcp", host: "0.0.0.0", port: 0 },
      { ...unix, tls: verifying },
      () => {},
    );
    expect(wide.address).toMatch(/^tcp:\/\/0\.0\.0\.0:\d+$/);
    await wide.close();
    const { ca: _, ...withoutCa } = verifying;
    await expect(
      listen({ kind: "tcp", host: "0.0.0.0", port: 2376 }, { ...unix, tls: withoutCa }, () => {}),
    ).rejects.toMatchObject({
      code: ProxyErrorCode.InsecureListen,
      message: expect.stringContaining("with TLS but without client verification"),
    });
  });

  it("serve TLS without client certificates on loopback when no CA is given (--tls)", async () => {
    const { ca: _, ...withoutCa } = verifying;
    const { listener, port, nextSocket } = await tlsListener(withoutCa);
    open.push(listener);
    const { socket, settled } = client(port);
    await settled;
    expect(identifyClient(await nextSocket())).toEqual({
      transport: "tls",
      address: `127.0.0.1:${socket.localPort}`,
    });
    socket.destroy();
  });
});

describe("TLS settings", () => {
  it("name the flag of a file that cannot be read", async () => {
    await expect(
      loadTlsFiles({ cert: "/nonexistent/cert.pem", key: certs.server.key, ca: certs.ca }),
    ).rejects.toMatchObject({
      code: ProxyErrorCode.InvalidTls,
      message: "cannot read --tlscert /nonexistent/cert.pem (ENOENT)",
    });
  });

  it("refuse a key that does not match the certificate before listening", async () => {
    const mismatched = await loadTlsFiles({ cert: certs.server.cert, key: certs.clients.alice!.key });
    await expect(
      listen({ kind: "tcp", host: "127.0.0.1", port: 0 }, { ...unix, tls: mismatched }, () => {}),
    ).rejects.toMatchObject({ code: ProxyErrorCode.InvalidTls });
  });

  it("refuse a CA file that holds no certificate", async () => {
    const broken = { ...verifying, ca: "not a certificate" };
    await expect(
      listen({ kind: "tcp", host: "127.0.0.1", port: 0 }, { ...unix, tls: broken }, () => {}),
    ).rejects.toMatchObject({ code: ProxyErrorCode.InvalidTls });
  });
});
