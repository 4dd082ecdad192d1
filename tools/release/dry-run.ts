// The release, rehearsed without changing anything: `npm run release:dry-run` (after npm run build).
//   1. `changeset status --verbose`: which packages the pending changesets bump, and why;
//   2. `changeset version` in a scratch copy of the manifests and changesets: the versions and
//      changelog entries the release would write (the tree is not touched);
//   3. `npm publish --dry-run` of each published package: what would be uploaded.
// The real release is `npx changeset version`, commit, `npm run build`, `npx changeset publish`.
import { spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { publishedPackages, repoRoot } from "./packages.js";

const changeset = join(repoRoot, "node_modules", "@changesets", "cli", "bin.js");

function run(command: string, args: string[], cwd: string): string {
  const result = spawnSync(command, args, { cwd, encoding: "utf8", timeout: 120_000 });
  const output = `${result.stdout ?? ""}${result.stderr ?? ""}`;
  if (result.status !== 0) throw new Error(`${command} ${args.join(" ")} failed:\n${output}`);
  return output;
}

/** Every workspace folder's package.json (the globs of the root manifest, one level deep). */
function workspaceManifests(): string[] {
  const root = JSON.parse(readFileSync(join(repoRoot, "package.json"), "utf8")) as { workspaces: string[] };
  const files: string[] = [];
  for (const glob of root.workspaces) {
    const dirs = glob.endsWith("/*")
      ? readdirSync(join(repoRoot, glob.slice(0, -2)), { withFileTypes: true })
          .filter((entry) => entry.isDirectory())
          .map((entry) => join(glob.slice(0, -2), entry.name))
      : [glob];
    for (const dir of dirs)
      if (existsSync(join(repoRoot, dir, "package.json"))) files.push(join(dir, "package.json"));
  }
  return files;
}

console.log("== changeset status");
console.log(run(process.execPath, [changeset, "status", "--verbose"], repoRoot).trim());

console.log("\n== changeset version (in a scratch copy)");
const scratch = mkdtempSync(join(tmpdir(), "powerstrip-release-"));
try {
  cpSync(join(repoRoot, "package.json"), join(scratch, "package.json"));
  cpSync(join(repoRoot, ".changeset"), join(scratch, ".changeset"), { recursive: true });
  for (const file of workspaceManifests()) {
    mkdirSync(join(scratch, dirname(file)), { recursive: true });
    cpSync(join(repoRoot, file), join(scratch, file));
  }
  run(process.execPath, [changeset, "version"], scratch);
  for (const pkg of publishedPackages().packages) {
    const dir = join(scratch, "packages", pkg.dir.split("/").pop()!);
    const next = (JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as { version: string }).version;
    console.log(`${pkg.name}: ${pkg.version} -> ${next}`);
    const changelog = join(dir, "CHANGELOG.md");
    if (existsSync(changelog)) {
      console.log(
        readFileSync(changelog, "utf8")
          .split("\n")
          .slice(2, 14)
          .map((line) => `    ${line}`)
          .join("\n")
          .trimEnd(),
      );
    }
  }
} finally {
  rmSync(scratch, { recursive: true, force: true });
}

console.log("\n== npm publish --dry-run");
const { packages, skipped } = publishedPackages();
for (const pkg of packages) {
  const output = run("npm", ["publish", "--dry-run", "--ignore-scripts"], pkg.dir);
  const total = output.match(/total files:\s*(\d+)/)?.[1] ?? "?";
  const size = output.match(/package size:\s*([^\n]+)/)?.[1]?.trim() ?? "?";
  console.log(`${pkg.name}@${pkg.version}: ${total} files, ${size}`);
}
for (const name of skipped) console.log(`skip ${name}`);
