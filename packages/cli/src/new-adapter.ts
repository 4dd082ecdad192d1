import { existsSync } from "node:fs";
import { mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import { basename, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { Command } from "commander";
import packageJson from "../package.json" with { type: "json" };
import { UsageError } from "./errors.js";

/** The starter's files, shipped in the package (`files` lists templates/). */
export const ADAPTER_TEMPLATE_DIR = fileURLToPath(new URL("../templates/adapter/", import.meta.url));

/** The same rule as the handshake's adapter name. */
const ADAPTER_NAME = /^[a-z0-9][a-z0-9_.-]{0,62}$/;

/** Template file names that npm or tools would otherwise treat specially, and what they become. */
const RENAMES: Readonly<Record<string, string>> = {
  "package.json.tmpl": "package.json",
  gitignore: ".gitignore",
  dockerignore: ".dockerignore",
};

export interface NewAdapterOptions {
  /** The adapter's name, as declared in its handshake. */
  name: string;
  /** Where to write the project (default: a folder named after the adapter, in the cwd). */
  directory?: string;
  /** The `@powerstrip/adapter-sdk` dependency: a range, or a tarball path (default `^VERSION`). */
  sdk?: string;
  /** The image the Dockerfile and README name (default `NAME`). */
  image?: string;
}

export interface NewAdapterResult {
  /** Absolute path of the project. */
  directory: string;
  /** The files written, relative to it, sorted. */
  files: string[];
}

/**
 * Writes a starter adapter project: one pre-hook, tests through the SDK's testing entry, a
 * Dockerfile that runs one bundled file, and a README. Refuses a bad name (UsageError) and a
 * directory that exists and is not empty.
 */
export async function newAdapter(options: NewAdapterOptions): Promise<NewAdapterResult> {
  const { name } = options;
  if (!ADAPTER_NAME.test(name)) {
    throw new UsageError(
      `${JSON.stringify(name)} is not an adapter name: lower-case letters, digits, "_", "." and "-", starting with a letter or digit, at most 63 characters`,
    );
  }
  const directory = resolve(options.directory ?? name);
  if (existsSync(directory) && (await readdir(directory)).length > 0) {
    throw new UsageError(`${directory} exists and is not empty`);
  }
  const values: Record<string, string> = {
    __NAME__: name,
    __IMAGE__: options.image ?? name,
    __SDK__: options.sdk ?? `^${packageJson.version}`,
  };
  const files: string[] = [];
  for (const source of (await readdir(ADAPTER_TEMPLATE_DIR, { recursive: true, withFileTypes: true }))
    .filter((entry) => entry.isFile())
    .map((entry) => join(entry.parentPath, entry.name))) {
    const relativePath = relative(ADAPTER_TEMPLATE_DIR, source);
    const target = join(
      directory,
      relativePath.replace(/[^/]+$/, (file) => RENAMES[file] ?? file),
    );
    const text = (await readFile(source, "utf8")).replace(
      /__NAME__|__IMAGE__|__SDK__/g,
      (key) => values[key]!,
    );
    await mkdir(join(target, ".."), { recursive: true });
    await writeFile(target, text);
    files.push(relative(directory, target));
  }
  return { directory, files: files.sort() };
}

/** Registers `powerstrip new adapter NAME` on the program that run() builds. */
export function addNewCommand(program: Command, io: { stdout: { write(text: string): unknown } }): void {
  program
    .command("new")
    .description("start a project")
    .command("adapter")
    .description("write a starter adapter project: one hook, tests, a Dockerfile and a README")
    .argument("<name>", "the adapter's name, as it declares it in the handshake")
    .option("--dir <dir>", "where to write it (default ./NAME); must be missing or empty")
    .option("--image <image>", "the image name in its Dockerfile and README (default NAME)")
    .option("--sdk <spec>", `the @powerstrip/adapter-sdk dependency (default ^${packageJson.version})`)
    .action(async (name: string, opts: { dir?: string; image?: string; sdk?: string }) => {
      const options: NewAdapterOptions = { name };
      if (opts.dir !== undefined) options.directory = opts.dir;
      if (opts.image !== undefined) options.image = opts.image;
      if (opts.sdk !== undefined) options.sdk = opts.sdk;
      const result = await newAdapter(options);
      const where = relative(process.cwd(), result.directory) || ".";
      io.stdout.write(
        `Created ${basename(result.directory)} (${result.files.length} files) in ${result.directory}\n\n` +
          `Next:\n  cd ${where}\n  npm install\n  npm test\n  npm run build && docker build -t ${options.image ?? name} .\n  powerstrip load ${options.image ?? name}\n`,
      );
    });
}
