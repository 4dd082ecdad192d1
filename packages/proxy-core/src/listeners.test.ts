import { spawn } from "node:child_process";
import { mkdirSync, statSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { dirname, join } from "node:path";
import { describe, expect, it } from "vitest";
import { ProxyErrorCode } from "./errors.js";
import { listen, resolveGroupId } from "./listeners.js";
import { tempDir } from "./testing/temp-dir.js";

const options = { socketMode: 0o660, socketGroup: undefined };
const tempSocket = () => join(tempDir("pst-listen-"), "nested", "p.sock");

describe("unix listeners", () => {
  it("creates the socket with the configured mode, then removes it on close", async () => {
    const path = tempSocket();
    const listener = await listen({ kind: "unix", path }, options, () => {});
    expect(statSync(path).mode & 0o777).toBe(0o660);
    expect(listener.address).toBe(`unix://${path}`);
    await listener.close();
    expect(() => statSync(path)).toThrow();
  });

  it("applies a stricter mode and a group when asked", async () => {
    const path = tempSocket();
    const listener = await listen({ kind: "unix", path }, { socketMode: 0o600, socketGroup: 0 }, () => {});
    const stats = statSync(path);
    expect(stats.mode & 0o777).toBe(0o600);
    expect(stats.gid).toBe(0);
    await listener.close();
  });

  it("replaces a stale socket left by a crash", async () => {
    const path = tempSocket();
    mkdirSync(dirname(path), { recursive: true });
    // A process that dies by SIGKILL leaves its socket file behind, with nobody listening.
    const child = spawn(process.execPath, [
      "-e",
      `require("net").createServer().listen(${JSON.stringify(path)}, () => console.log("up"))`,
    ]);
    await new Promise((resolve) => child.stdout.once("data", resolve));
    child.kill("SIGKILL");
    await new Promise((resolve) => child.once("exit", resolve));
    expect(statSync(path).isSocket()).toBe(true);
    const listener = await listen({ kind: "unix", path }, options, (socket) => socket.end("hello"));
    const reply = await new Promise<string>((resolve) => {
      const socket = connect(path);
      socket.once("data", (chunk) => resolve(chunk.toString()));
    });
    expect(reply).toBe("hello");
    await listener.close();
  });

  it("refuses a socket somebody still answers on", async () => {
    const path = tempSocket();
    const first = await listen({ kind: "unix", path }, options, (socket) => socket.destroy());
    await expect(listen({ kind: "unix", path }, options, () => {})).rejects.toMatchObject({
      code: ProxyErrorCode.AddressInUse,
    });
    await first.close();
  });

  it("never deletes a file that is not a socket", async () => {
    const dir = tempDir("pst-listen-");
    const path = join(dir, "precious");
    writeFileSync(path, "data");
    await expect(listen({ kind: "unix", path }, options, () => {})).rejects.toMatchObject({
      code: ProxyErrorCode.AddressInUse,
    });
    expect(statSync(path).isFile()).toBe(true);
  });
});

describe("tcp listeners", () => {
  it("listens on loopback and reports the port it got", async () => {
    const listener = await listen({ kind: "tcp", host: "127.0.0.1", port: 0 }, options, () => {});
    expect(listener.address).toMatch(/^tcp:\/\/127\.0\.0\.1:\d+$/);
    expect(listener.address).not.toBe("tcp://127.0.0.1:0");
    await listener.close();
  });

  it.each(["0.0.0.0", "::", "10.1.2.3"])("refuses plain TCP on %s", async (host) => {
    await expect(listen({ kind: "tcp", host, port: 2375 }, options, () => {})).rejects.toMatchObject({
      code: ProxyErrorCode.InsecureListen,
    });
  });
});

describe("resolveGroupId", () => {
  it("reads names from /etc/group and passes numbers through", async () => {
    expect(await resolveGroupId("root")).toBe(0);
    expect(await resolveGroupId(42)).toBe(42);
    expect(await resolveGroupId("42")).toBe(42);
    await expect(resolveGroupId("no-such-group-here")).rejects.toThrow(/does not exist/);
  });
});
