// vitest globalSetup of the "engine" project: these tests drive a real Docker engine and run
// containers from powerstrip/base-node, so check both once up front, and remove what tests leave.
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { promisify } from "node:util";
import { ensureImages } from "../images/build-images.mjs";
import { DOCKER_SOCKET, dockerProblem } from "../require-docker.mjs";

/** The label on every Docker object a test creates (its value is the run id). */
export const TEST_LABEL = "io.powerstrip.test";

/**
 * One label value for the whole run, handed to the test workers through the environment: the
 * teardown then removes this run's leftovers only, never those of a run beside it on the engine.
 */
const runId = process.env.POWERSTRIP_TEST_RUN_ID ?? `run-${randomBytes(4).toString("hex")}`;

export async function setup(): Promise<void> {
  process.env.POWERSTRIP_TEST_RUN_ID = runId;
  const problem = await dockerProblem("the engine test project");
  if (problem) throw new Error(problem);
  // Every image the tests run, built from the sources as they are now (cached by content hash:
  // seconds when nothing changed), so no test runs a stale image.
  await ensureImages();
}

export async function teardown(): Promise<void> {
  const failures = await removeLabelled(`${TEST_LABEL}=${runId}`);
  // Leftovers are worth a warning, not a failed run: the tests themselves already passed or failed.
  for (const f of failures) console.warn(`engine teardown: ${f}`);
}

/**
 * Force-removes every container, network, volume and image carrying `label` (key, or key=value),
 * whoever created it: a safety net for crashed or interrupted tests. Returns what it could not remove.
 */
export async function removeLabelled(label: string): Promise<string[]> {
  const failures: string[] = [];
  const filter = ["--filter", `label=${label}`];
  // Containers first: networks and volumes in use cannot be removed.
  const kinds = [
    { list: ["ps", "-aq"], remove: ["rm", "-f", "-v"] },
    { list: ["network", "ls", "-q"], remove: ["network", "rm"] },
    { list: ["volume", "ls", "-q"], remove: ["volume", "rm", "-f"] },
    { list: ["image", "ls", "-q"], remove: ["image", "rm", "-f"] },
  ];
  for (const { list, remove } of kinds) {
    try {
      const ids = [...new Set((await docker([...list, ...filter])).split("\n").filter(Boolean))];
      if (ids.length) await docker([...remove, ...ids]);
    } catch (err) {
      failures.push(
        `removing ${label} objects (docker ${remove.join(" ")}): ${(err as Error).message.trim()}`,
      );
    }
  }
  return failures;
}

// The engine itself, never DOCKER_HOST: a test run may point that at a proxy it is testing.
const env: NodeJS.ProcessEnv = { ...process.env, DOCKER_HOST: `unix://${DOCKER_SOCKET}` };
delete env.DOCKER_CONTEXT;
const execFileP = promisify(execFile);

async function docker(args: string[]): Promise<string> {
  return (await execFileP("docker", args, { env, timeout: 60_000 })).stdout;
}
