// Builds every image Powerstrip ships, locally and without a registry (there is none to pull
// from), all tagged :latest. Each image spec names the inputs that decide its content; their hash
// is stored on the image as the label io.powerstrip.content-hash, and an image whose label already
// matches is not rebuilt, so a rerun with nothing changed takes seconds.
//
//   node tools/images/build-images.mjs [--force] [--no-build] [IMAGE...]     (default: every image)
//   import { ensureImages } from "./tools/images/build-images.mjs"; await ensureImages(["powerstrip/base-node"]);
//
// Images of programs copy a bundle (one ESM file, no node_modules) that the program's nx `build`
// target writes; the builder runs that target first (nx caches it), unless --no-build.
//
// See README.md next to this file for how to add an image.
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { createReadStream, existsSync, readdirSync, readFileSync } from "node:fs";
import fs from "node:fs/promises";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { DOCKER_SOCKET, dockerProblem } from "../require-docker.mjs";

// Bump when the way images are made changes (anything below), to rebuild them everywhere.
const BUILDER_VERSION = 2;
const HASH_LABEL = "io.powerstrip.content-hash";
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const WORK_DIR = "/var/cache/powerstrip"; // debootstrap's .deb cache and scratch rootfs live here

// ---------------------------------------------------------------------------------------------
// The images. Each spec: name (tagged :latest), deps (images to ensure first), inputs() (a JSON
// value whose hash decides whether to rebuild) and build(hash) (must put the label on the image).
// ---------------------------------------------------------------------------------------------

// powerstrip/base-node stands in for the public node:20-bookworm-slim: Debian minbase + this
// machine's node binary (it links only glibc, libstdc++ and libgcc, which minbase has).
const SUITE = "bookworm";
const INCLUDE = ["ca-certificates"];
const NODE_BIN = process.execPath;
// Tests run these inside containers; the build fails if the image lacks any of them.
const REQUIRED_TOOLS = ["sh", "cat", "echo", "sleep", "head", "sha256sum"];

export const IMAGES = [
  {
    name: "powerstrip/base-node",
    deps: [],
    inputs: async () => ({
      node: await hashFile(NODE_BIN),
      suite: SUITE,
      include: INCLUDE,
      v: BUILDER_VERSION,
    }),
    build: buildBaseNode,
  },
  // The daemon: dist/image/powerstrip-proxy.mjs, bundled by apps/proxy/tsup.image.config.ts.
  dockerfileImage("powerstrip/proxy", {
    dockerfile: "apps/proxy/Dockerfile",
    context: "apps/proxy",
    inputs: [
      "apps/proxy/dist/image/powerstrip-proxy.mjs",
      "apps/proxy/dist/image/node_modules",
      "apps/proxy/.dockerignore",
    ],
    project: "@powerstrip/proxy-app",
  }),
  // The base of multi-container adapters: the loader runtime (apps/adapter-loader/dist/main.js,
  // bundled) and Debian's docker-compose, installed with apt in the build.
  dockerfileImage("powerstrip/adapter-loader", {
    dockerfile: "apps/adapter-loader/Dockerfile",
    context: "apps/adapter-loader",
    inputs: [
      "apps/adapter-loader/dist/main.js",
      "apps/adapter-loader/dist/main.js.map",
      "apps/adapter-loader/.dockerignore",
    ],
    project: "@powerstrip/adapter-loader-app",
  }),
  // The socketplane example: its hooks service (a plain SDK adapter), and the adapter itself, a
  // loader image with its docker-compose.yml. That one is powerstrip/socketplane, not
  // powerstrip/example-socketplane: example-* images run standalone in apps/proxy/test/image.test.ts,
  // and a loader needs the engine socket that powerstrip load gives it.
  dockerfileImage("powerstrip/example-socketplane-agent", {
    dockerfile: "apps/examples/socketplane/agent/Dockerfile",
    context: "apps/examples/socketplane",
    inputs: [
      "apps/examples/socketplane/dist/agent.js",
      "apps/examples/socketplane/dist/agent.js.map",
      "apps/examples/socketplane/.dockerignore",
    ],
    project: "@powerstrip/example-socketplane",
  }),
  {
    ...dockerfileImage("powerstrip/socketplane", {
      dockerfile: "apps/examples/socketplane/Dockerfile",
      context: "apps/examples/socketplane",
      inputs: ["apps/examples/socketplane/docker-compose.yml", "apps/examples/socketplane/.dockerignore"],
      base: "powerstrip/adapter-loader",
      project: "@powerstrip/example-socketplane",
    }),
    // The set's images too, so that a built example loads.
    deps: ["powerstrip/adapter-loader", "powerstrip/example-socketplane-agent"],
  },
  // apps/examples/<name> → powerstrip/example-<name>, for each example with a program and a Dockerfile.
  ...exampleImages(),
];

/**
 * One image per example adapter that has `src/main.ts` and a `Dockerfile`: the Dockerfile copies
 * `dist/main.js` (and its source map), which the example's own build bundles with everything it
 * imports.
 */
function exampleImages() {
  const dir = path.join(ROOT, "apps/examples");
  const names = existsSync(dir) ? readdirSync(dir).sort() : [];
  return names
    .filter((n) =>
      ["src/main.ts", "Dockerfile", "package.json"].every((f) => existsSync(path.join(dir, n, f))),
    )
    .map((n) => {
      const context = `apps/examples/${n}`;
      return dockerfileImage(`powerstrip/example-${n}`, {
        dockerfile: `${context}/Dockerfile`,
        context,
        inputs: [`${context}/dist/main.js`, `${context}/dist/main.js.map`, `${context}/.dockerignore`],
        project: packageJson(context).name,
      });
    });
}

/**
 * A spec for an image built with `docker build`. The Dockerfile declares `ARG BASE_IMAGE=<public
 * image>` and `FROM ${BASE_IMAGE}`; here it gets the local stand-in. The hash covers the Dockerfile,
 * `inputs` (files or directories, relative to the repo root; default: the whole context), the
 * build args and the base image's ID, so a rebuilt base rebuilds everything on top of it.
 *
 * `project` is the nx project whose `build` target writes the inputs; `ensureImages` runs it
 * first. When the context holds a package.json, its version is passed as `--build-arg VERSION`
 * (for the `org.opencontainers.image.version` label).
 */
export function dockerfileImage(
  name,
  { dockerfile, context, inputs = [context], base = "powerstrip/base-node", project },
) {
  const buildArgs = () => {
    const args = { BASE_IMAGE: `${base}:latest` };
    if (existsSync(path.join(ROOT, context, "package.json"))) args.VERSION = packageJson(context).version;
    return args;
  };
  return {
    name,
    deps: [base],
    project,
    inputs: async () => {
      for (const input of inputs) {
        if (!existsSync(path.join(ROOT, input)))
          throw new Error(`${name}: ${input} is missing (it is built by \`npm run build\`)`);
      }
      return {
        files: await hashPaths([dockerfile, ...inputs]),
        args: buildArgs(),
        base: await imageInfo(base, "{{.Id}}"),
        v: BUILDER_VERSION,
      };
    },
    build: (hash) =>
      docker([
        "build",
        "-q",
        ...Object.entries(buildArgs()).flatMap(([k, v]) => ["--build-arg", `${k}=${v}`]),
        "--label",
        `${HASH_LABEL}=${hash}`,
        "-t",
        `${name}:latest`,
        "-f",
        path.join(ROOT, dockerfile),
        path.join(ROOT, context),
      ]),
  };
}

function packageJson(dir) {
  return JSON.parse(readFileSync(path.join(ROOT, dir, "package.json"), "utf8"));
}

// ---------------------------------------------------------------------------------------------
// Building and caching
// ---------------------------------------------------------------------------------------------

/**
 * Builds the named images (default: all) and their deps unless their content hash is current.
 * First runs the nx `build` target of the programs they copy (cached by nx), unless `build: false`.
 */
export async function ensureImages(names = IMAGES.map((i) => i.name), { force = false, build = true } = {}) {
  const problem = await dockerProblem("building images");
  if (problem) throw new Error(problem);
  const started = Date.now();
  const results = new Map(); // name -> "built" | "cached"
  const specOf = (name) => {
    const spec = IMAGES.find((i) => i.name === name);
    if (!spec) throw new Error(`unknown image ${name} (known: ${IMAGES.map((i) => i.name).join(", ")})`);
    return spec;
  };
  const ensure = async (name) => {
    if (results.has(name)) return;
    const spec = specOf(name);
    for (const dep of spec.deps) await ensure(dep);
    const hash = sha256(JSON.stringify(await spec.inputs()));
    if (!force && (await imageInfo(name, `{{index .Config.Labels "${HASH_LABEL}"}}`)) === hash) {
      results.set(name, "cached");
      return say(`${name}:latest is up to date`);
    }
    const t = Date.now();
    const previous = await imageInfo(name, "{{.Id}}");
    say(`building ${name}:latest`);
    await spec.build(hash);
    if ((await imageInfo(name, `{{index .Config.Labels "${HASH_LABEL}"}}`)) !== hash)
      throw new Error(`${name}: the build did not label the image with ${HASH_LABEL}=${hash}`);
    // Drop the image this one replaced, or each rebuild leaves ~200 MB behind. The engine refuses
    // while a container still uses it, which is fine: it stays until then.
    if (previous && previous !== (await imageInfo(name, "{{.Id}}")))
      await docker(["rmi", previous]).catch((err) =>
        say(`kept the replaced image: ${err.message.split("\n").pop()}`),
      );
    results.set(name, "built");
    say(`built ${name}:latest in ${secs(t)}`);
  };
  // One builder at a time per machine (tests and `npm run images` may overlap); a waiter then
  // usually finds the image current.
  await withLock(path.join(WORK_DIR, "images.lock"), async () => {
    if (build) await buildPrograms(names.map(specOf));
    for (const name of names) await ensure(name);
  });
  say(`done in ${secs(started)}`);
  return Object.fromEntries(results);
}

/** Runs the nx `build` target of every program the images (and their deps) copy, in one nx call. */
async function buildPrograms(specs) {
  const projects = new Set();
  const visit = (spec) => {
    if (spec.project) projects.add(spec.project);
    for (const dep of spec.deps) visit(IMAGES.find((i) => i.name === dep));
  };
  specs.forEach(visit);
  if (projects.size === 0) return;
  const t = Date.now();
  const list = [...projects].sort();
  await run(path.join(ROOT, "node_modules/.bin/nx"), [
    "run-many",
    "-t",
    "build",
    `--projects=${list.join(",")}`,
    "--outputStyle=static",
  ]).catch((err) => {
    throw new Error(
      `building ${list.join(", ")} failed (npm run images --no-build skips it): ${err.message}`,
    );
  });
  say(`built ${list.join(", ")} (nx) in ${secs(t)}`);
}

async function buildBaseNode(hash) {
  const mirror = await aptMirror(SUITE);
  const cache = path.join(WORK_DIR, "debootstrap");
  const rootfs = path.join(WORK_DIR, "base-node.rootfs"); // fixed path: a crashed build is cleaned up next time
  await fs.mkdir(cache, { recursive: true });
  await removeTree(rootfs);
  try {
    say(`debootstrap ${SUITE} from ${mirror}`);
    // --cache-dir keeps the downloaded .debs, so a forced rebuild only re-fetches the indexes.
    await run("debootstrap", [
      "--variant=minbase",
      `--include=${INCLUDE.join(",")}`,
      `--cache-dir=${cache}`,
      SUITE,
      rootfs,
      mirror,
    ]);
    await fs.copyFile(NODE_BIN, path.join(rootfs, "usr/local/bin/node"));
    await fs.chmod(path.join(rootfs, "usr/local/bin/node"), 0o755);
    // Like the public image: a "node" user (uid 1000) that Dockerfiles can switch to.
    await run("chroot", [
      rootfs,
      "sh",
      "-c",
      "groupadd -g 1000 node && useradd -u 1000 -g node -s /bin/sh -m node",
    ]);
    // Slim it as debian:bookworm-slim is (no docs but copyrights, man pages, locales, apt lists;
    // ~50 MB) and leave no trace of the build host (docker supplies hostname and resolv.conf).
    await run("sh", [
      "-c",
      [
        `cd '${rootfs}'`,
        "rm -rf var/lib/apt/lists/* var/cache/apt/*.bin var/cache/apt/archives/*.deb var/log/*.log var/log/apt/*",
        "rm -rf usr/share/man/* usr/share/info/* etc/hostname",
        "find usr/share/doc -type f ! -name copyright -delete",
        "find usr/share/locale -mindepth 1 -maxdepth 1 ! -name locale.alias -exec rm -rf {} +",
        ": > etc/resolv.conf",
      ].join(" && "),
    ]);
    const changes = [
      "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
      `ENV NODE_VERSION=${process.version.slice(1)}`,
      `LABEL ${HASH_LABEL}=${hash}`,
      'CMD ["node"]',
    ];
    const id = await pipe(
      ["tar", "-C", rootfs, "--numeric-owner", "-cf", "-", "."],
      ["docker", "import", ...changes.flatMap((c) => ["--change", c]), "-"],
    );
    // Tag only an image that runs node and has what the tests use.
    const check = `node --version && for t in ${REQUIRED_TOOLS.join(" ")}; do command -v $t >/dev/null || { echo "missing $t"; exit 1; }; done`;
    say(`image runs node ${(await docker(["run", "--rm", "--network=none", id, "sh", "-c", check])).trim()}`);
    await docker(["tag", id, "powerstrip/base-node:latest"]);
  } finally {
    await removeTree(rootfs);
  }
}

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

const say = (msg) => console.error(`images: ${msg}`);
const secs = (since) => `${((Date.now() - since) / 1000).toFixed(1)} s`;
const sha256 = (data) => createHash("sha256").update(data).digest("hex");

// Always the engine itself (DOCKER_HOST may point at a Powerstrip proxy), and the classic builder:
// the CLI here is newer than the engine and has no buildx.
const DOCKER_ENV = { ...process.env, DOCKER_HOST: `unix://${DOCKER_SOCKET}`, DOCKER_BUILDKIT: "0" };
delete DOCKER_ENV.DOCKER_CONTEXT;
const docker = (args) => run("docker", args);

/** The image's field (Go template) or "" when there is no such image. */
async function imageInfo(name, format) {
  return (
    await run("docker", ["image", "inspect", "--format", format, `${name}:latest`]).catch(() => "")
  ).trim();
}

/** Runs a command, resolves to its stdout; rejects with the tail of its output. */
function run(cmd, args, { stdin = "ignore" } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: ROOT, env: DOCKER_ENV, stdio: [stdin, "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (err = (err + d).slice(-4000)));
    child.on("error", reject);
    child.on("close", (code) => {
      if (code === 0) return resolve(out);
      // Errors go to stderr, but some tools (nx) report failures on stdout: show both tails.
      const tail = [err.trim(), out.trim().split("\n").slice(-15).join("\n")]
        .filter(Boolean)
        .join("\n")
        .split("\n")
        .slice(-25)
        .join("\n");
      reject(new Error(`${cmd} ${args.slice(0, 3).join(" ")} ... exited ${code}:\n${tail}`));
    });
  });
}

/** `a | b`, resolving to b's stdout; fails if either side fails. */
async function pipe([cmdA, ...argsA], [cmdB, ...argsB]) {
  const a = spawn(cmdA, argsA, { stdio: ["ignore", "pipe", "inherit"] });
  const aDone = new Promise((res, rej) =>
    a.on("exit", (code) => (code === 0 ? res() : rej(new Error(`${cmdA} exited ${code}`)))),
  );
  const bDone = run(cmdB, argsB, { stdin: a.stdout });
  a.stdout.destroy(); // b has its own copy of the pipe; ours would keep it open
  const [out] = await Promise.all([bDone, aDone]);
  return out.trim();
}

async function hashFile(file) {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(file)) hash.update(chunk);
  return hash.digest("hex");
}

/** One hash over files and directory trees (paths relative to the repo root): names, modes, contents. */
async function hashPaths(paths) {
  const hash = createHash("sha256");
  const walk = async (rel) => {
    const abs = path.join(ROOT, rel);
    const st = await fs.lstat(abs);
    if (st.isDirectory()) {
      for (const entry of (await fs.readdir(abs)).sort()) await walk(path.join(rel, entry));
    } else {
      const content = st.isSymbolicLink() ? await fs.readlink(abs) : await hashFile(abs);
      hash.update(`${rel}\0${st.mode & 0o777}\0${content}\n`);
    }
  };
  for (const p of paths) await walk(p);
  return hash.digest("hex");
}

/** The mirror apt uses for `suite` (deb822 .sources or one-line .list), so debootstrap uses it too. */
async function aptMirror(suite) {
  const dir = "/etc/apt/sources.list.d";
  const files = [
    "/etc/apt/sources.list",
    ...(await fs.readdir(dir).catch(() => [])).sort().map((f) => path.join(dir, f)),
  ];
  for (const file of files) {
    const text = await fs.readFile(file, "utf8").catch(() => "");
    if (file.endsWith(".sources")) {
      for (const stanza of text.split(/\n\s*\n/)) {
        const field = (k) =>
          stanza
            .match(new RegExp(`^${k}:(.*)$`, "mi"))?.[1]
            .trim()
            .split(/\s+/) ?? [];
        if (field("Types").includes("deb") && field("Suites").includes(suite) && field("Enabled")[0] !== "no")
          return field("URIs")[0];
      }
    } else if (file.endsWith(".list")) {
      for (const line of text.split("\n")) {
        const m = line.match(/^\s*deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+(\S+)/);
        if (m?.[2] === suite) return m[1];
      }
    }
  }
  throw new Error(`no apt source for suite ${suite} in /etc/apt/sources.list or ${dir}`);
}

/** rm -rf that first unmounts whatever a failed debootstrap left mounted inside (proc, sys, dev binds). */
async function removeTree(dir) {
  const mounts = (await fs.readFile("/proc/self/mounts", "utf8")).split("\n").map((l) => l.split(" ")[1]);
  for (const m of mounts
    .filter((m) => m?.startsWith(`${dir}/`))
    .sort()
    .reverse())
    await run("umount", ["-l", m]);
  await run("rm", ["-rf", "--one-file-system", dir]);
}

/** Runs fn holding an exclusive lock file; waits for a live holder, takes over from a dead one. */
async function withLock(file, fn) {
  await fs.mkdir(path.dirname(file), { recursive: true });
  for (let waited = 0; ; waited++) {
    try {
      await fs.writeFile(file, String(process.pid), { flag: "wx" });
      break;
    } catch (err) {
      if (err.code !== "EEXIST") throw err;
      const pid = Number(await fs.readFile(file, "utf8").catch(() => ""));
      if (!pid || !isAlive(pid)) {
        await fs.rm(file, { force: true }); // its holder died mid-build
        continue;
      }
      if (waited === 0) say(`waiting for another image build (pid ${pid})`);
      await new Promise((r) => setTimeout(r, 1000));
    }
  }
  try {
    return await fn();
  } finally {
    await fs.rm(file, { force: true });
  }
}

function isAlive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return err.code === "EPERM";
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const args = process.argv.slice(2);
  const names = args.filter((a) => !a.startsWith("--"));
  try {
    await ensureImages(names.length ? names : undefined, {
      force: args.includes("--force"),
      build: !args.includes("--no-build"),
    });
  } catch (err) {
    console.error(`images: ${err.message}`);
    process.exit(1);
  }
}
