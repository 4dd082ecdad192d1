import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runClient, succeeded, withTimeout } from "@powerstrip/test-support";
import { afterEach, describe, expect, it } from "vitest";
import { type Daemon, said, startDaemon as startDaemonProcess } from "./support/daemon.js";

const daemons: Daemon[] = [];
const dirs: string[] = [];

afterEach(() => {
  for (const d of daemons.splice(0)) d.child.kill("SIGKILL");
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "pst-daemon-"));
  dirs.push(dir);
  return dir;
}

function startDaemon(args: string[], env: Record<string, string> = {}): Daemon {
  const daemon = startDaemonProcess(args, env);
  daemons.push(daemon);
  return daemon;
}

function listening(daemon: Daemon): Promise<void> {
  return said(daemon, /listening on/, "the daemon to listen");
}

function flags(dir: string): string[] {
  return ["--admin", `unix://${join(dir, "admin.sock")}`, "--state-dir", join(dir, "state")];
}

describe("powerstrip-proxy, the command", () => {
  it("serves the docker CLI on the socket it was given, created 0660", async () => {
    const dir = tempDir();
    const socket = join(dir, "docker.sock");
    const daemon = startDaemon(["--listen", `unix://${socket}`, ...flags(dir)]);
    await listening(daemon);
    expect(statSync(socket).mode & 0o777).toBe(0o660);
    const version = await runClient("docker", socket, ["version", "--format", "{{.Server.APIVersion}}"]);
    succeeded(version);
    expect(version.stdout.toString().trim()).toMatch(/^1\.\d+$/);
  });

  it("reads its settings from POWERSTRIP_* variables", async () => {
    const dir = tempDir();
    const socket = join(dir, "env.sock");
    const daemon = startDaemon([], {
      POWERSTRIP_LISTEN: `unix://${socket}`,
      POWERSTRIP_ADMIN: `unix://${join(dir, "admin.sock")}`,
      POWERSTRIP_STATE_DIR: join(dir, "state"),
      POWERSTRIP_SOCKET_MODE: "600",
    });
    await listening(daemon);
    expect(statSync(socket).mode & 0o777).toBe(0o600);
    succeeded(await runClient("docker", socket, ["info", "--format", "{{.ID}}"]));
  });

  it("comes back on the same path after kill -9, replacing the stale socket", async () => {
    const dir = tempDir();
    const socket = join(dir, "docker.sock");
    const first = startDaemon(["--listen", `unix://${socket}`, ...flags(dir)]);
    await listening(first);
    first.child.kill("SIGKILL");
    await first.exited;
    expect(statSync(socket).isSocket()).toBe(true); // left behind by the crash
    const second = startDaemon(["--listen", `unix://${socket}`, ...flags(dir)]);
    await listening(second);
    succeeded(await runClient("docker", socket, ["version"]));
  });

  it("stops on SIGTERM with exit 0 and removes its socket", async () => {
    const dir = tempDir();
    const socket = join(dir, "docker.sock");
    const daemon = startDaemon(["--listen", `unix://${socket}`, ...flags(dir)]);
    await listening(daemon);
    daemon.child.kill("SIGTERM");
    expect(await withTimeout(daemon.exited, 10_000, "the daemon to exit")).toBe(0);
    expect(() => statSync(socket)).toThrow();
  });

  it.each([
    [["--listen", "tcp://0.0.0.0:2375"], /refusing to listen on tcp:\/\/0\.0\.0\.0:2375 without TLS/],
    [["--listen", "nonsense"], /invalid address "nonsense"/],
    [["--no-such-flag"], /unknown option '--no-such-flag'/],
  ])("refuses %j with one line on stderr and exit 1", async (args, message) => {
    const dir = tempDir();
    const daemon = startDaemon([...args, ...flags(dir)]);
    expect(await withTimeout(daemon.exited, 30_000, "the daemon to exit")).toBe(1);
    const lines = daemon.stderr().trim().split("\n");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(message);
  });
});
