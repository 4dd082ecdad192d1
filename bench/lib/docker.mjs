import http from "node:http";

/** A small Docker Engine API client over a unix socket: setup and cleanup only, never measured. */
export function dockerClient(socketPath) {
  return {
    request: (method, path, body) => dockerRequest(socketPath, method, path, body),
    async json(method, path, body, okStatuses = [200, 201, 204, 304]) {
      const res = await dockerRequest(socketPath, method, path, body);
      if (!okStatuses.includes(res.status)) {
        throw new Error(`${method} ${path}: ${res.status} ${res.text.trim()}`);
      }
      return res.text ? JSON.parse(res.text) : null;
    },
  };
}

function dockerRequest(socketPath, method, path, body) {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const req = http.request(
      {
        socketPath,
        method,
        path,
        headers: payload ? { "Content-Type": "application/json", "Content-Length": payload.length } : {},
        timeout: 60_000,
      },
      (res) => {
        const chunks = [];
        res.on("data", (c) => chunks.push(c));
        res.on("end", () =>
          resolve({ status: res.statusCode, headers: res.headers, text: Buffer.concat(chunks).toString() }),
        );
        res.on("error", reject);
      },
    );
    req.on("timeout", () => req.destroy(new Error(`${method} ${path}: no answer in 60 s`)));
    req.on("error", reject);
    req.end(payload);
  });
}

export const BENCH_LABEL = "io.powerstrip.bench";
const PID_LABEL = "io.powerstrip.bench.pid";

/**
 * Creates (and optionally starts) containers labelled as this run's, tracked in `registry` the
 * moment they exist so that cleanup finds them even if a later step fails.
 */
export async function createContainer(docker, registry, spec, { start = true } = {}) {
  const labels = { ...(spec.Labels ?? {}), [BENCH_LABEL]: "1", [PID_LABEL]: String(process.pid) };
  const { Id } = await docker.json("POST", "/containers/create", { ...spec, Labels: labels });
  registry.add(Id);
  if (start) await docker.json("POST", `/containers/${Id}/start`);
  return Id;
}

/** Creates `count` containers a few at a time (dockerd serialises much of it anyway). */
export async function createMany(docker, registry, count, spec, parallel = 4) {
  const ids = [];
  let next = 0;
  const worker = async () => {
    while (next < count) {
      next++;
      ids.push(await createContainer(docker, registry, spec));
    }
  };
  await Promise.all(Array.from({ length: Math.min(parallel, count) }, worker));
  return ids;
}

/** Force-removes every container of this run: the tracked ids and anything carrying our pid label. */
export async function removeOwnContainers(docker, registry) {
  const filters = encodeURIComponent(JSON.stringify({ label: [`${PID_LABEL}=${process.pid}`] }));
  try {
    const listed = await docker.json("GET", `/containers/json?all=1&filters=${filters}`);
    for (const c of listed) registry.add(c.Id);
  } catch {
    // the engine may be the thing that failed; still try the ids we know
  }
  const removed = await removeContainers(docker, [...registry]);
  registry.clear();
  return removed;
}

/** Removes bench containers left by earlier runs whose process is gone (a kill -9, a crash). */
export async function removeStaleContainers(docker) {
  const filters = encodeURIComponent(JSON.stringify({ label: [`${BENCH_LABEL}=1`] }));
  const listed = await docker.json("GET", `/containers/json?all=1&filters=${filters}`);
  const stale = listed.filter((c) => !processAlive(Number(c.Labels?.[PID_LABEL])));
  return removeContainers(
    docker,
    stale.map((c) => c.Id),
  );
}

/** Removes some of this run's containers (force, with their anonymous volumes). */
export async function removeTracked(docker, registry, ids) {
  const removed = await removeContainers(docker, ids);
  for (const id of ids) registry.delete(id);
  return removed;
}

async function removeContainers(docker, ids) {
  let removed = 0;
  await Promise.all(
    ids.map(async (id) => {
      const res = await docker.request("DELETE", `/containers/${id}?force=1&v=1`).catch(() => null);
      if (res && (res.status === 204 || res.status === 404)) removed++;
    }),
  );
  return removed;
}

function processAlive(pid) {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return error.code === "EPERM";
  }
}

/** Waits for a local image (no pulls here), polling every 30 s up to `timeoutMs`. */
export async function waitForImage(docker, image, timeoutMs, log) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const res = await docker.request("GET", `/images/${encodeURIComponent(image)}/json`);
    if (res.status === 200) return;
    if (Date.now() >= deadline) throw new Error(`image ${image} not found (waited ${timeoutMs / 1000} s)`);
    log(`waiting for image ${image} (it cannot be pulled; build it locally) …`);
    await new Promise((r) => setTimeout(r, 30_000));
  }
}
