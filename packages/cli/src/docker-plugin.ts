import { constants } from "node:fs";
import {
  access,
  chmod,
  lstat,
  mkdir,
  readFile,
  readlink,
  realpath,
  rename,
  rm,
  writeFile,
} from "node:fs/promises";
import { homedir } from "node:os";
import { dirname, isAbsolute, join, resolve } from "node:path";

/**
 * The Docker CLI plugin: `docker-powerstrip` in a cli-plugins directory makes `docker powerstrip
 * ARGS…` run `docker-powerstrip powerstrip ARGS…` (and `docker --help` list it, from what the
 * plugin answers to `docker-powerstrip docker-cli-plugin-metadata`).
 */
export const DOCKER_PLUGIN_NAME = "docker-powerstrip";

/** The line that marks a file in cli-plugins as ours, so reinstalling may replace it. */
const MARKER = "# Written by `powerstrip install-docker-plugin`";

export interface InstallDockerPluginOptions {
  /** The executable the wrapper runs: `bin/docker-powerstrip` of this package (a Node script). */
  pluginPath: string;
  /** The home directory (default: the user's); the plugin goes to `HOME/.docker/cli-plugins`. */
  home?: string | undefined;
  /**
   * The docker CLI's configuration directory when `DOCKER_CONFIG` is set: the docker CLI then looks
   * for plugins in `DOCKER_CONFIG/cli-plugins` instead of `HOME/.docker/cli-plugins`.
   */
  dockerConfig?: string | undefined;
  /** The node binary the wrapper runs (default: this one, so the plugin works without node on PATH). */
  node?: string;
  /** Extra node flags (e.g. to run from sources in tests). */
  nodeArgs?: readonly string[];
  /** Replace a `docker-powerstrip` that this command did not write. */
  force?: boolean;
}

export interface InstalledDockerPlugin {
  /** Where the plugin now is. */
  path: string;
  /** `unchanged`: it was already installed just so. */
  status: "installed" | "updated" | "unchanged";
  /** One line for the user. */
  message: string;
}

/** A failure to install, with a message fit for one line on stderr. */
export class DockerPluginError extends Error {
  override readonly name = "DockerPluginError";
}

/**
 * Installs the Docker CLI plugin: writes `cli-plugins/docker-powerstrip` (mode 0755), a small
 * shell wrapper that runs `pluginPath` with this node binary. Idempotent: the same wrapper is left
 * alone, an older one of ours is replaced; a `docker-powerstrip` someone else put there is refused
 * unless `force`. The file is written next to its place and renamed over it, so the docker CLI
 * never sees half of it.
 */
export async function installDockerPlugin(
  options: InstallDockerPluginOptions,
): Promise<InstalledDockerPlugin> {
  const pluginPath = resolve(options.pluginPath);
  await access(pluginPath, constants.R_OK).catch((error) => {
    throw new DockerPluginError(`cannot find the plugin program ${pluginPath}: ${reason(error)}`);
  });
  const dir = pluginDirectory(options);
  const target = join(dir, DOCKER_PLUGIN_NAME);
  const content = wrapper(options.node ?? process.execPath, options.nodeArgs ?? [], pluginPath);

  const existing = await lstat(target).catch(() => undefined);
  let status: InstalledDockerPlugin["status"] = "installed";
  if (existing !== undefined) {
    if (existing.isDirectory()) {
      throw new DockerPluginError(`cannot install the Docker CLI plugin: ${target} is a directory`);
    }
    const current = existing.isFile() ? await readFile(target, "utf8").catch(() => "") : "";
    if (current === content && (existing.mode & 0o777) === 0o755) {
      return { path: target, status: "unchanged", message: `${target} is already installed` };
    }
    const ours =
      current.includes(MARKER) ||
      (existing.isSymbolicLink() && (await sameFile(resolve(dir, await readlink(target)), pluginPath)));
    if (!ours && !options.force) {
      throw new DockerPluginError(
        `${target} exists and was not written by powerstrip; remove it or use --force to replace it`,
      );
    }
    status = "updated";
  }

  await mkdir(dir, { recursive: true, mode: 0o755 }).catch((error) => {
    throw new DockerPluginError(`cannot create ${dir}: ${reason(error)}`);
  });
  const temp = join(dir, `.${DOCKER_PLUGIN_NAME}.${process.pid}.tmp`);
  try {
    await writeFile(temp, content, { mode: 0o755 });
    await chmod(temp, 0o755); // whatever the umask
    await rename(temp, target);
  } catch (error) {
    await rm(temp, { force: true }).catch(() => {});
    throw new DockerPluginError(`cannot write ${target}: ${reason(error)}`);
  }
  const verb = status === "installed" ? "installed" : "updated";
  return {
    path: target,
    status,
    message: `${verb} ${target}: \`docker powerstrip COMMAND\` now runs \`powerstrip COMMAND\``,
  };
}

/** Where the docker CLI looks for a user's plugins: `DOCKER_CONFIG/cli-plugins`, else `~/.docker/cli-plugins`. */
export function pluginDirectory(options: {
  home?: string | undefined;
  dockerConfig?: string | undefined;
}): string {
  if (options.dockerConfig) return join(resolve(options.dockerConfig), "cli-plugins");
  const home = options.home || homedir();
  if (!home || !isAbsolute(home)) {
    throw new DockerPluginError("cannot install the Docker CLI plugin: no home directory (set HOME)");
  }
  return join(home, ".docker", "cli-plugins");
}

/**
 * The plugin program that ships next to the running command: `bin/docker-powerstrip` of this package
 * beside `bin/powerstrip.js` (through npm's `.bin` symlinks, which are resolved).
 */
export async function defaultDockerPluginPath(
  mainScript: string | undefined = process.argv[1],
): Promise<string> {
  if (!mainScript) throw new DockerPluginError(`cannot find ${DOCKER_PLUGIN_NAME}: no main script`);
  const real = await realpath(mainScript).catch(() => resolve(mainScript));
  return join(dirname(real), DOCKER_PLUGIN_NAME);
}

/** The wrapper's text: runs the plugin with an absolute node, passing every argument on. */
function wrapper(node: string, nodeArgs: readonly string[], pluginPath: string): string {
  const command = [node, ...nodeArgs, pluginPath].map(shellQuote).join(" ");
  return [
    "#!/bin/sh",
    "# docker-powerstrip: the Docker CLI plugin of Powerstrip (`docker powerstrip COMMAND`).",
    `${MARKER}; run it again to update this file, delete it to uninstall.`,
    `exec ${command} "$@"`,
    "",
  ].join("\n");
}

function shellQuote(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

async function sameFile(a: string, b: string): Promise<boolean> {
  const [ra, rb] = await Promise.all([realpath(a).catch(() => a), realpath(b).catch(() => b)]);
  return ra === rb;
}

function reason(error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code;
  switch (code) {
    case "ENOENT":
      return "no such file or directory";
    case "EACCES":
    case "EPERM":
      return "permission denied";
    case "ENOTDIR":
      return "a parent is not a directory";
    case "EROFS":
      return "read-only file system";
    default:
      return code ?? (error instanceof Error ? error.message : String(error));
  }
}
