// The published packages and how to pack them. Shared by the pack check and the smoke test.
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), "..", "..");

export interface PublishedPackage {
  /** e.g. `@powerstrip/adapter-sdk` */
  name: string;
  version: string;
  /** Absolute path of the package folder. */
  dir: string;
  manifest: Record<string, unknown>;
}

/**
 * Every non-private package under packages/ that has been built (a package being written, with
 * no package.json or no dist/ yet, is left out and named in `skipped`).
 */
export function publishedPackages(): { packages: PublishedPackage[]; skipped: string[] } {
  const packages: PublishedPackage[] = [];
  const skipped: string[] = [];
  for (const entry of readdirSync(join(repoRoot, "packages")).sort()) {
    const dir = join(repoRoot, "packages", entry);
    const file = join(dir, "package.json");
    if (!existsSync(file)) continue;
    const manifest = JSON.parse(readFileSync(file, "utf8")) as Record<string, unknown>;
    if (manifest.private === true) continue;
    if (!existsSync(join(dir, "dist"))) {
      skipped.push(`${String(manifest.name)} (no dist/: not built)`);
      continue;
    }
    packages.push({ name: String(manifest.name), version: String(manifest.version), dir, manifest });
  }
  return { packages, skipped };
}

/** `npm pack` of one package into `destination`; returns the tarball's absolute path. */
export function pack(pkg: PublishedPackage, destination: string): string {
  const result = spawnSync("npm", ["pack", "--json", "--pack-destination", destination], {
    cwd: pkg.dir,
    encoding: "utf8",
    timeout: 60_000,
  });
  if (result.status !== 0) {
    throw new Error(`npm pack ${pkg.name} failed: ${result.stderr || result.error?.message}`);
  }
  const [info] = JSON.parse(result.stdout) as [{ filename: string }];
  return join(destination, info.filename);
}

/** What the manifest of a published package must say; one line per problem. */
export function manifestProblems(
  pkg: Pick<PublishedPackage, "name" | "manifest">,
  hasReadme: boolean,
): string[] {
  const m = pkg.manifest;
  const problems: string[] = [];
  if (!hasReadme) problems.push("no README.md");
  if (typeof m.description !== "string" || m.description === "") problems.push("no description");
  if (typeof m.license !== "string") problems.push("no license");
  if (m.type !== "module") problems.push('"type" is not "module"');
  const exportsMap = m.exports as Record<string, unknown> | undefined;
  if (exportsMap === undefined || typeof exportsMap !== "object") problems.push("no exports map");
  else {
    if (!("." in exportsMap)) problems.push('exports has no "."');
    if (!("./package.json" in exportsMap)) problems.push('exports has no "./package.json"');
    for (const [key, target] of Object.entries(exportsMap)) {
      if (typeof target === "object" && target !== null && !("types" in target)) {
        problems.push(`exports["${key}"] has no "types"`);
      }
    }
  }
  if (typeof m.types !== "string") problems.push('no "types"');
  if (!Array.isArray(m.files) || !m.files.includes("dist")) problems.push('"files" does not list dist');
  const engines = m.engines as { node?: string } | undefined;
  if (engines?.node !== ">=20.19")
    problems.push(`engines.node is ${engines?.node ?? "missing"}, not ">=20.19"`);
  if (m.repository === undefined) problems.push("no repository");
  return problems;
}
