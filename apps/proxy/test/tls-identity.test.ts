// Transport security and identity (issue #6), against the real engine with the real docker CLI:
// powerstrip-proxy --tlsverify on every interface serves `docker --tlsverify` (ps, run -i with
// stdin closed, exec), refuses clients without a certificate of its CA at the handshake, and tells
// adapters who called — the certificate's CN and fingerprint over TLS, the peer's address over
// loopback TCP, the peer's uid/gid/pid over the unix socket — so that a policy can decide on it.
import { X509Certificate } from "node:crypto";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type ClientIdentity, defineAdapter, type RunningAdapter, serve } from "@powerstrip/adapter-sdk";
import {
  BASE_IMAGE,
  type CertFiles,
  type CliOptions,
  containerFlags,
  makeTestCertificates,
  removeLabelled,
  runClient,
  spawnClient,
  succeeded,
  type TestCertificates,
  uniqueName,
  withTimeout,
} from "@powerstrip/test-support";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Daemon, kill9, powerstrip, said, startDaemon } from "./support/daemon.js";

const silent = { info() {}, warn() {}, error() {} };
const DENIED = "whoami: privileged containers need the admin certificate";

/** Every create the adapter was asked about: the container name and who asked. */
const seen: { name: string | undefined; client: ClientIdentity | undefined }[] = [];

/** A policy on the caller's identity: only the holder of the CN=admin certificate may run privileged. */
const whoami = defineAdapter({
  name: "whoami",
  hooks: {
    "POST /containers/create": {
      pre(ctx) {
        seen.push({ name: ctx.query.name as string | undefined, client: ctx.client });
        const privileged = ctx.body?.HostConfig?.Privileged === true;
        if (privileged && ctx.client?.certificate?.commonName !== "admin") return ctx.deny(403, DENIED);
      },
    },
  },
});

let dir: string;
let certs: TestCertificates;
let adapter: RunningAdapter;
const daemons: Daemon[] = [];

/** A daemon on this file's dir; resolves with it and the tcp port it reported. */
async function startProxy(
  name: string,
  args: string[],
): Promise<{ daemon: Daemon; port: number; admin: string }> {
  const admin = `unix://${join(dir, `${name}-admin.sock`)}`;
  const daemon = startDaemon([...args, "--admin", admin, "--state-dir", join(dir, `${name}-state`)]);
  daemons.push(daemon);
  await said(daemon, /listening on/, `${name} to listen`);
  const port = Number(/tcp:\/\/[^ ,;]+:(\d+)/.exec(daemon.stderr())![1]);
  const loaded = await powerstrip(admin, "load", "--url", adapter.address);
  expect(loaded).toMatchObject({ code: 0 });
  return { daemon, port, admin };
}

let tlsPort: number;
let tcpPort: number;
const unixSocket = () => join(dir, "docker.sock");

/** The docker CLI over TLS with `client`'s certificate (none: `--tls` and the CA only). */
function tlsDocker(client: CertFiles | null, args: string[], options: CliOptions = {}) {
  const identity = client
    ? ["--tlsverify", "--tlscacert", certs.ca, "--tlscert", client.cert, "--tlskey", client.key]
    : ["--tls", "--tlscacert", certs.ca];
  // -H wins over the DOCKER_HOST runClient sets.
  return runClient("docker", "/nonexistent", [...identity, "-H", `tcp://127.0.0.1:${tlsPort}`, ...args], {
    timeoutMs: 30_000,
    ...options,
  });
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "pst-tls-"));
  certs = await makeTestCertificates(["admin", "alice"]);
  adapter = await serve(whoami, { socket: join(dir, "whoami.sock"), handleSignals: false, logger: silent });
  const tls = [
    "--tlsverify",
    "--tlscacert",
    certs.ca,
    "--tlscert",
    certs.server.cert,
    "--tlskey",
    certs.server.key,
  ];
  // On every interface, as `dockerd -H tcp://0.0.0.0:2376 --tlsverify` is run; the test talks to it on loopback.
  const [secure, plain] = await Promise.all([
    startProxy("tls", ["--listen", `unix://${unixSocket()}`, "--listen", "tcp://0.0.0.0:0", ...tls]),
    startProxy("tcp", ["--listen", "tcp://127.0.0.1:0"]),
  ]);
  tlsPort = secure.port;
  tcpPort = plain.port;
});

afterAll(async () => {
  await removeLabelled();
  await Promise.all(daemons.map(kill9));
  await adapter?.close();
  await certs?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const seenFor = (name: string) => seen.filter((s) => s.name === name).map((s) => s.client);

describe("powerstrip-proxy --tlsverify, with the docker CLI", () => {
  it("serves a client whose certificate its CA issued: ps, run -i with stdin, exec", async () => {
    const alice = certs.clients.alice!;
    succeeded(await tlsDocker(alice, ["ps", "--all", "--quiet"]), "docker ps over TLS");
    // run -i: stdin reaches the container and its EOF too (a half-close over TLS), then the output comes back.
    const ran = await tlsDocker(
      alice,
      [
        "run",
        "--rm",
        "-i",
        ...containerFlags(uniqueName("tls-run")),
        BASE_IMAGE,
        "sh",
        "-c",
        "cat; echo end",
      ],
      {
        input: "stdin over TLS\n",
      },
    );
    succeeded(ran, "docker run -i over TLS");
    expect(ran.stdout.toString()).toBe("stdin over TLS\nend\n");
    const name = uniqueName("tls-exec");
    succeeded(await tlsDocker(alice, ["run", "-d", ...containerFlags(name), BASE_IMAGE, "sleep", "60"]));
    const exec = await tlsDocker(alice, ["exec", "-i", name, "sh", "-c", "cat; echo exec-end"], {
      input: "piped\n",
    });
    succeeded(exec, "docker exec -i over TLS");
    expect(exec.stdout.toString()).toBe("piped\nexec-end\n");
  });

  it("tells the adapter the caller's certificate: CN, subject, issuer, fingerprint", async () => {
    const name = uniqueName("tls-who");
    succeeded(await tlsDocker(certs.clients.alice!, ["create", ...containerFlags(name), BASE_IMAGE, "true"]));
    const fingerprint256 = new X509Certificate(await readFile(certs.clients.alice!.cert)).fingerprint256;
    expect(seenFor(name)).toEqual([
      {
        transport: "tls",
        address: expect.stringMatching(/^127\.0\.0\.1:\d+$/),
        certificate: {
          commonName: "alice",
          subject: "CN=alice,O=powerstrip-test",
          issuer: "CN=ca,O=powerstrip-test",
          fingerprint256,
        },
      },
    ]);
  });

  it("lets a policy decide on the CN: --privileged is denied to alice, allowed to admin", async () => {
    const refused = uniqueName("tls-priv-alice");
    const denied = await tlsDocker(certs.clients.alice!, [
      "create",
      "--privileged",
      ...containerFlags(refused),
      BASE_IMAGE,
      "true",
    ]);
    expect(denied.code).toBe(1);
    expect(denied.stderr).toContain(`Error response from daemon: ${DENIED}`);
    expect((await runClient("docker", "/var/run/docker.sock", ["inspect", refused])).code).toBe(1);
    const allowed = uniqueName("tls-priv-admin");
    succeeded(
      await tlsDocker(certs.clients.admin!, [
        "create",
        "--privileged",
        ...containerFlags(allowed),
        BASE_IMAGE,
        "true",
      ]),
    );
    expect(seenFor(allowed)[0]?.certificate?.commonName).toBe("admin");
  });

  it.each([
    ["no certificate", () => null, /certificate required/],
    [
      "a certificate from another CA",
      () => certs.intruder,
      /certificate required|unknown certificate authority|bad certificate/,
    ],
  ])(
    "refuses a client with %s at the handshake: nothing reaches the adapter or the engine",
    async (_, client, message) => {
      const name = uniqueName("tls-refused");
      const result = await tlsDocker(client(), ["create", ...containerFlags(name), BASE_IMAGE, "true"]);
      expect(result.code).not.toBe(0);
      expect(result.stderr).toMatch(message);
      expect(seenFor(name)).toEqual([]);
      expect((await runClient("docker", "/var/run/docker.sock", ["inspect", name])).code).toBe(1);
    },
  );

  it("answers a plain HTTP client on its TLS port with nothing it can use", async () => {
    const plain = await runClient("docker", "/nonexistent", ["-H", `tcp://127.0.0.1:${tlsPort}`, "version"], {
      timeoutMs: 30_000,
    });
    expect(plain.code).not.toBe(0);
    expect(plain.stdout.toString()).not.toMatch(/Server/);
  });
});

describe("the caller's identity on the other transports", () => {
  it("unix socket: the docker CLI's uid, gid and pid", async () => {
    const name = uniqueName("unix-who");
    const live = spawnClient("docker", unixSocket(), ["create", ...containerFlags(name), BASE_IMAGE, "true"]);
    live.child.stdin?.end();
    succeeded(await withTimeout(live.exited, 30_000, "docker create over the unix socket"));
    expect(seenFor(name)).toEqual([
      { transport: "unix", uid: process.getuid!(), gid: process.getgid!(), pid: live.child.pid },
    ]);
  });

  it("loopback TCP: the peer's address", async () => {
    const name = uniqueName("tcp-who");
    succeeded(
      await runClient("docker", "/nonexistent", [
        "-H",
        `tcp://127.0.0.1:${tcpPort}`,
        "create",
        ...containerFlags(name),
        BASE_IMAGE,
        "true",
      ]),
    );
    expect(seenFor(name)).toEqual([
      { transport: "tcp", address: expect.stringMatching(/^127\.0\.0\.1:\d+$/) },
    ]);
  });
});

describe("TLS flags the daemon refuses: one line, exit 1", () => {
  it.each([
    [
      ["--tls", "--listen", "tcp://0.0.0.0:2376"],
      /refusing to listen on tcp:\/\/0\.0\.0\.0:2376 with TLS but without client verification/,
    ],
    [["--tlsverify", "--listen", "tcp://127.0.0.1:0"], /--tlsverify needs --tlscacert/],
  ])("%j", async (args, message) => {
    const daemon = startDaemon([
      ...args,
      "--tlscert",
      certs.server.cert,
      "--tlskey",
      certs.server.key,
      "--admin",
      `unix://${join(dir, "refused-admin.sock")}`,
      "--state-dir",
      join(dir, "refused-state"),
    ]);
    daemons.push(daemon);
    expect(await withTimeout(daemon.exited, 30_000, "the daemon to exit")).toBe(1);
    const lines = daemon.stderr().trim().split("\n");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(message);
  });
});
