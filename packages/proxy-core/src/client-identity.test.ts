import { spawn } from "node:child_process";
import { chmodSync } from "node:fs";
import { connect, type Socket } from "node:net";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { identifyClient } from "./client-identity.js";
import { type Listener, listen } from "./listeners.js";
import { tempDir } from "./testing/temp-dir.js";

/** Who a connection comes from, as a listener accepted it. TLS identities: see tls.test.ts. */
const open: { listener: Listener; served: Socket[] }[] = [];

afterEach(async () => {
  for (const { listener, served } of open.splice(0)) {
    for (const socket of served) socket.destroy();
    await listener.close();
  }
});

async function listenFor(address: Parameters<typeof listen>[0], socketMode = 0o660) {
  const served: Socket[] = [];
  let accepted: (socket: Socket) => void = () => {};
  const next = new Promise<Socket>((resolve) => {
    accepted = resolve;
  });
  const listener = await listen(address, { socketMode, socketGroup: undefined }, (socket) => {
    served.push(socket);
    accepted(socket);
  });
  open.push({ listener, served });
  return { listener, next };
}

describe("identifyClient", () => {
  it("gives a unix peer's uid, gid and pid as the kernel recorded them", async () => {
    const path = join(tempDir("pst-identity-"), "p.sock");
    const { next } = await listenFor({ kind: "unix", path });
    const client = connect(path);
    expect(identifyClient(await next)).toEqual({
      transport: "unix",
      uid: process.getuid!(),
      gid: process.getgid!(),
      pid: process.pid,
    });
    client.destroy();
  });

  it("tells another user's process apart: the uid is the peer's, not the proxy's", async () => {
    const dir = tempDir("pst-identity-");
    chmodSync(dir, 0o755);
    const path = join(dir, "p.sock");
    const { next } = await listenFor({ kind: "unix", path }, 0o666);
    // nobody (65534), connecting from a process of its own that waits to be told to go.
    const child = spawn(
      "setpriv",
      [
        "--reuid=65534",
        "--regid=65534",
        "--clear-groups",
        process.execPath,
        "-e",
        `require("net").connect(${JSON.stringify(path)}).on("data", () => process.exit(0))`,
      ],
      { stdio: "ignore" },
    );
    const served = await next;
    expect(identifyClient(served)).toEqual({ transport: "unix", uid: 65534, gid: 65534, pid: child.pid });
    served.end("bye");
    await new Promise((resolve) => child.once("exit", resolve));
  });

  it("gives a TCP peer's address and port", async () => {
    const { listener, next } = await listenFor({ kind: "tcp", host: "127.0.0.1", port: 0 });
    const client = connect(Number(listener.address.split(":").pop()), "127.0.0.1");
    await new Promise((resolve) => client.once("connect", resolve));
    expect(identifyClient(await next)).toEqual({
      transport: "tcp",
      address: `127.0.0.1:${client.localPort}`,
    });
    client.destroy();
  });
});
