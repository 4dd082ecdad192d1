// Engine-test support: the powerstrip-proxy daemon as users run it (from sources, so tests never
// run a stale build), and the powerstrip command against its admin socket.
import { type ChildProcess, spawn } from "node:child_process";
import { join } from "node:path";
import { withTimeout } from "@powerstrip/test-support";
import { type RunResult, runCli } from "../../../../packages/cli/src/testing/harness.js";

const CLI = join(import.meta.dirname, "..", "..", "src", "cli.ts");

export interface Daemon {
  child: ChildProcess;
  stderr(): string;
  /** Settles with the exit code (null when killed by a signal). */
  exited: Promise<number | null>;
  running(): boolean;
}

export function startDaemon(args: string[], env: Record<string, string> = {}): Daemon {
  const child = spawn(process.execPath, ["--conditions=source", "--import", "tsx", CLI, ...args], {
    env: { ...process.env, ...env },
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  child.stderr!.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  return {
    child,
    stderr: () => stderr,
    exited,
    running: () => child.exitCode === null && child.signalCode === null,
  };
}

/** Resolves once the daemon's stderr matches; rejects if it exits first or after `timeoutMs`. */
export function said(daemon: Daemon, pattern: RegExp, what: string, timeoutMs = 30_000): Promise<void> {
  return withTimeout(
    new Promise<void>((resolve, reject) => {
      const check = () => {
        if (pattern.test(daemon.stderr())) resolve();
      };
      daemon.child.stderr!.on("data", check);
      daemon.child.once("exit", () => reject(new Error(`exited: ${daemon.stderr()}`)));
      check();
    }),
    timeoutMs,
    what,
  );
}

export async function kill9(daemon: Daemon): Promise<void> {
  if (daemon.running()) daemon.child.kill("SIGKILL");
  await daemon.exited;
}

/** `powerstrip --admin <admin> ...argv`, in-process, as the command prints it. */
export function powerstrip(admin: string, ...argv: string[]): Promise<RunResult> {
  return runCli(["--admin", admin, ...argv]);
}
