import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterEach, describe, expect, it } from "vitest";
import {
  DOCKER_PLUGIN_NAME,
  DockerPluginError,
  defaultDockerPluginPath,
  installDockerPlugin,
  pluginDirectory,
} from "./docker-plugin.js";

const execFileP = promisify(execFile);
const dirs: string[] = [];

afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** A temp dir; `name` may hold spaces and quotes, to prove the wrapper quotes paths. */
function tempDir(name = "pst-plugin-"): string {
  const dir = mkdtempSync(join(tmpdir(), name));
  dirs.push(dir);
  return dir;
}

/** A stand-in plugin program that prints its arguments as JSON. */
function fakePlugin(dir: string): string {
  const file = join(dir, "docker-powerstrip.mjs");
  writeFileSync(file, "process.stdout.write(JSON.stringify(process.argv.slice(2)));\n");
  return file;
}

describe("installDockerPlugin", () => {
  it("writes an executable wrapper into HOME/.docker/cli-plugins that passes every argument on", async () => {
    const home = tempDir();
    const plugin = fakePlugin(tempDir("pst plugin 'quoted' "));
    const result = await installDockerPlugin({ home, pluginPath: plugin });
    const target = join(home, ".docker", "cli-plugins", DOCKER_PLUGIN_NAME);
    expect(result).toMatchObject({ path: target, status: "installed" });
    expect(result.message).toContain(target);
    expect(statSync(target).mode & 0o777).toBe(0o755);
    expect(readFileSync(target, "utf8")).toMatch(/^#!\/bin\/sh\n/);
    const { stdout } = await execFileP(target, ["powerstrip", "ls", "--json", "a b", "it's"]);
    expect(JSON.parse(stdout)).toEqual(["powerstrip", "ls", "--json", "a b", "it's"]);
  });

  it("runs the plugin with this node binary, not whichever node is on PATH", async () => {
    const home = tempDir();
    const result = await installDockerPlugin({ home, pluginPath: fakePlugin(tempDir()) });
    expect(readFileSync(result.path, "utf8")).toContain(`exec ${process.execPath} `);
  });

  it("is idempotent, and updates a wrapper it wrote before", async () => {
    const home = tempDir();
    const first = fakePlugin(tempDir());
    expect((await installDockerPlugin({ home, pluginPath: first })).status).toBe("installed");
    const again = await installDockerPlugin({ home, pluginPath: first });
    expect(again.status).toBe("unchanged");
    expect(again.message).toMatch(/already installed/);
    const second = fakePlugin(tempDir());
    const updated = await installDockerPlugin({ home, pluginPath: second });
    expect(updated.status).toBe("updated");
    expect(readFileSync(updated.path, "utf8")).toContain(second);
    expect(readFileSync(updated.path, "utf8")).not.toContain(first);
  });

  it("puts the plugin in DOCKER_CONFIG/cli-plugins when DOCKER_CONFIG is set, as the docker CLI looks there", async () => {
    const home = tempDir();
    const config = join(tempDir(), "docker-config");
    const result = await installDockerPlugin({
      home,
      dockerConfig: config,
      pluginPath: fakePlugin(tempDir()),
    });
    expect(result.path).toBe(join(config, "cli-plugins", DOCKER_PLUGIN_NAME));
    expect(pluginDirectory({ home })).toBe(join(home, ".docker", "cli-plugins"));
  });

  it("refuses to replace a docker-powerstrip it did not write, unless forced", async () => {
    const home = tempDir();
    const dir = join(home, ".docker", "cli-plugins");
    mkdirSync(dir, { recursive: true });
    const target = join(dir, DOCKER_PLUGIN_NAME);
    writeFileSync(target, "#!/bin/sh\necho someone else's\n", { mode: 0o755 });
    const plugin = fakePlugin(tempDir());
    await expect(installDockerPlugin({ home, pluginPath: plugin })).rejects.toThrow(
      `${target} exists and was not written by powerstrip; remove it or use --force to replace it`,
    );
    expect(readFileSync(target, "utf8")).toContain("someone else's");
    expect((await installDockerPlugin({ home, pluginPath: plugin, force: true })).status).toBe("updated");
    expect(readFileSync(target, "utf8")).toContain(plugin);
  });

  it("replaces a symlink to the same plugin program (an install done by hand)", async () => {
    const home = tempDir();
    const dir = join(home, ".docker", "cli-plugins");
    mkdirSync(dir, { recursive: true });
    const plugin = fakePlugin(tempDir());
    symlinkSync(plugin, join(dir, DOCKER_PLUGIN_NAME));
    const result = await installDockerPlugin({ home, pluginPath: plugin });
    expect(result.status).toBe("updated");
    expect(statSync(result.path).isFile()).toBe(true);
  });

  it.each([
    [
      "the plugin program is missing",
      (home: string) => ({ home, pluginPath: join(home, "nope", "docker-powerstrip") }),
      /^cannot find the plugin program .*\/nope\/docker-powerstrip: no such file or directory$/,
    ],
    [
      "~/.docker is a file",
      (home: string) => {
        writeFileSync(join(home, ".docker"), "");
        return { home, pluginPath: fakePlugin(home) };
      },
      /^cannot create .*\/\.docker\/cli-plugins: /,
    ],
    [
      "docker-powerstrip is a directory",
      (home: string) => {
        mkdirSync(join(home, ".docker", "cli-plugins", DOCKER_PLUGIN_NAME), { recursive: true });
        return { home, pluginPath: fakePlugin(home) };
      },
      /^cannot install the Docker CLI plugin: .*\/docker-powerstrip is a directory$/,
    ],
    [
      "there is no home directory",
      (home: string) => ({ home: "relative/home", pluginPath: fakePlugin(home) }),
      /^cannot install the Docker CLI plugin: no home directory \(set HOME\)$/,
    ],
  ])("fails with one clear line when %s", async (_what, options, message) => {
    const error = await installDockerPlugin(options(tempDir())).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DockerPluginError);
    expect((error as Error).message).toMatch(message);
    expect((error as Error).message).not.toContain("\n");
  });

  it("leaves no temporary file behind", async () => {
    const home = tempDir();
    await installDockerPlugin({ home, pluginPath: fakePlugin(tempDir()) });
    const { stdout } = await execFileP("ls", ["-A", join(home, ".docker", "cli-plugins")]);
    expect(stdout.trim()).toBe(DOCKER_PLUGIN_NAME);
  });
});

describe("defaultDockerPluginPath", () => {
  it("finds docker-powerstrip next to the running command, through npm's .bin symlink", async () => {
    const root = tempDir();
    mkdirSync(join(root, "apps", "cli", "bin"), { recursive: true });
    mkdirSync(join(root, "node_modules", ".bin"), { recursive: true });
    const script = join(root, "apps", "cli", "bin", "powerstrip.js");
    writeFileSync(script, "");
    symlinkSync(script, join(root, "node_modules", ".bin", "powerstrip"));
    expect(await defaultDockerPluginPath(join(root, "node_modules", ".bin", "powerstrip"))).toBe(
      join(root, "apps", "cli", "bin", DOCKER_PLUGIN_NAME),
    );
  });
});
