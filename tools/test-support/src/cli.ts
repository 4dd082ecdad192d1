import { type ChildProcess, spawn } from "node:child_process";
import { Waiters } from "./waiters.js";

/** What a finished CLI process gave back. stdout stays bytes: tests compare binary output. */
export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: Buffer;
  stderr: string;
}

export interface CliOptions {
  /** Written to stdin, which is then closed. Without it stdin is closed at once (never a TTY). */
  input?: Buffer | string;
  env?: Record<string, string>;
  cwd?: string;
  /** The process is killed and the call rejects after this long. */
  timeoutMs?: number;
}

const DEFAULT_TIMEOUT_MS = 60_000;

/** The environment a client gets: pointed at `socketPath`, with nothing that could override that. */
export function clientEnv(socketPath: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    DOCKER_HOST: `unix://${socketPath}`,
    DOCKER_CLI_HINTS: "false",
  };
  // A context, TLS settings or a compose project from the caller's shell would send clients elsewhere.
  for (const key of [
    "DOCKER_CONTEXT",
    "DOCKER_TLS_VERIFY",
    "DOCKER_CERT_PATH",
    "COMPOSE_PROJECT_NAME",
    "COMPOSE_FILE",
  ]) {
    delete env[key];
  }
  return { ...env, ...extra };
}

/** Runs `command args` to completion against `socketPath`. */
export function runClient(
  command: string,
  socketPath: string,
  args: readonly string[],
  options: CliOptions = {},
): Promise<CliResult> {
  const live = spawnClient(command, socketPath, args, options);
  if (options.input !== undefined) live.child.stdin?.end(options.input);
  else live.child.stdin?.end();
  return live.exited;
}

/** A running client whose output tests watch while it runs (`logs -f`, `events`). */
export interface LiveClient {
  readonly child: ChildProcess;
  /** Everything written to stdout so far, as text. */
  stdoutText(): string;
  /** Resolves with all stdout so far once it matches; rejects after timeoutMs or if the process ends first. */
  waitForStdout(pattern: RegExp, timeoutMs: number): Promise<string>;
  /** Settles when the process exits; rejects if it outlives its timeout. */
  readonly exited: Promise<CliResult>;
  hasExited(): boolean;
}

/** Starts `command args` against `socketPath` and leaves stdin open for the caller. */
export function spawnClient(
  command: string,
  socketPath: string,
  args: readonly string[],
  options: CliOptions = {},
): LiveClient {
  const child = spawn(command, args, {
    env: clientEnv(socketPath, options.env),
    cwd: options.cwd,
    stdio: ["pipe", "pipe", "pipe"],
  });
  const stdout: Buffer[] = [];
  const stderr: Buffer[] = [];
  let done = false;
  const waiters = new Waiters();
  child.stdout.on("data", (chunk: Buffer) => {
    stdout.push(chunk);
    waiters.wake();
  });
  child.stderr.on("data", (chunk: Buffer) => stderr.push(chunk));
  // A client that exits before reading all its input must not crash the test with EPIPE.
  child.stdin.on("error", () => {});

  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const describe = (): string =>
    `${command} ${args.join(" ")}\n--- stdout (tail) ---\n${Buffer.concat(stdout).toString("utf8").slice(-2000)}` +
    `\n--- stderr ---\n${Buffer.concat(stderr).toString("utf8").slice(-2000)}`;

  const exited = new Promise<CliResult>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`timed out after ${timeoutMs} ms: ${describe()}`));
    }, timeoutMs);
    child.on("error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      done = true;
      waiters.wake();
      resolve({
        code,
        signal,
        stdout: Buffer.concat(stdout),
        stderr: Buffer.concat(stderr).toString("utf8"),
      });
    });
  });
  // Callers that only watch stdout still see a timeout through waitForStdout; avoid an unhandled rejection.
  exited.catch(() => {});

  const stdoutText = (): string => Buffer.concat(stdout).toString("utf8");
  const waitForStdout = (pattern: RegExp, waitMs: number): Promise<string> =>
    waiters.until(
      () => {
        const text = stdoutText();
        if (pattern.test(text)) return text;
        if (done) throw new Error(`exited before stdout matched ${pattern}: ${describe()}`);
        return undefined;
      },
      waitMs,
      () => new Error(`stdout did not match ${pattern} within ${waitMs} ms: ${describe()}`),
    );

  return { child, stdoutText, waitForStdout, exited, hasExited: () => done };
}

/** Returns the result of a client that exited 0; otherwise throws with its output, so failures read clearly. */
export function succeeded(result: CliResult, what = "command"): CliResult {
  if (result.code !== 0) {
    throw new Error(
      `${what} exited ${result.code ?? result.signal}\n--- stderr ---\n${result.stderr}` +
        `\n--- stdout ---\n${result.stdout.toString("utf8").slice(-2000)}`,
    );
  }
  return result;
}
