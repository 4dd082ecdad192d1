// Run before `npm test` (and reused by the engine tests' globalSetup and the image builder): the
// tests drive a real Docker engine, so say so in one plain line instead of letting dozens of tests
// fail with ECONNREFUSED. Always the real engine's socket: DOCKER_HOST may point at a Powerstrip proxy.
import http from "node:http";
import { pathToFileURL } from "node:url";

export const DOCKER_SOCKET = "/var/run/docker.sock";

/** Resolves to null when an engine answers GET /_ping on the socket, else to a one-line reason. */
export function checkDocker(socketPath = DOCKER_SOCKET, timeoutMs = 2000) {
  return new Promise((resolve) => {
    const req = http.get({ socketPath, path: "/_ping", timeout: timeoutMs }, (res) => {
      res.resume();
      resolve(res.statusCode === 200 ? null : `GET /_ping answered HTTP ${res.statusCode}`);
    });
    req.on("timeout", () => req.destroy(Object.assign(new Error(), { code: "TIMEOUT" })));
    req.on("error", (err) => {
      if (err.code === "ENOENT") resolve("none answered");
      else if (err.code === "TIMEOUT") resolve(`none answered within ${timeoutMs} ms`);
      else if (err.code === "ECONNREFUSED") resolve("none answered, the socket refuses connections");
      else resolve(`none answered: ${err.message}`);
    });
  });
}

/** The message `npm test` prints; exported so globalSetup fails with the same words. */
export async function dockerProblem(what = "npm test") {
  const reason = await checkDocker();
  return reason && `${what} needs a Docker engine at ${DOCKER_SOCKET}: ${reason} (run: npm run docker:up)`;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const problem = await dockerProblem();
  if (problem) {
    console.error(problem);
    process.exit(1);
  }
}
