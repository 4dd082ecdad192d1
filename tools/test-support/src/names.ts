import { randomBytes } from "node:crypto";

/** The label every Docker object a test creates carries; the global teardown removes by it. */
export const TEST_LABEL = "io.powerstrip.test";

/**
 * This run's id, the value of TEST_LABEL. A run may pin it through POWERSTRIP_TEST_RUN_ID;
 * otherwise each test file's module graph gets its own, so a file's cleanup touches only its objects.
 */
export const RUN_ID: string = process.env.POWERSTRIP_TEST_RUN_ID ?? `run-${randomBytes(4).toString("hex")}`;

/** `label=value` as docker CLI `--label` and `--filter label=` take it. */
export const RUN_LABEL = `${TEST_LABEL}=${RUN_ID}`;

/** Labels object for API bodies and compose files. */
export function testLabels(): Record<string, string> {
  return { [TEST_LABEL]: RUN_ID };
}

/** A Docker-safe unique name: uniqueName("cp") → "pst-cp-1a2b3c4d5e". Lowercase so compose keeps it as is. */
export function uniqueName(purpose: string): string {
  return `pst-${purpose}-${randomBytes(5).toString("hex")}`;
}

/**
 * `docker run`/`create` flags: the container's unique name, this run's label, and never pull
 * (there is no registry, and a typo must not send traffic to Docker Hub).
 */
export function containerFlags(name: string): string[] {
  return ["--pull", "never", "--name", name, "--label", RUN_LABEL];
}
