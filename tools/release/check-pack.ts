// Packs every published package and checks the tarball as a consumer would get it:
//   - the manifest has what a published package needs (README, exports, types, files, engines,
//     license, repository);
//   - publint (strict) finds nothing;
//   - @arethetypeswrong/cli (esm-only profile: the packages are ESM) resolves every entry point's
//     types.
// Run: npm run check:pack   (after npm run build). Exit 1 and one line per problem on failure.
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { manifestProblems, pack, publishedPackages, repoRoot } from "./packages.js";

function runTool(command: string, args: string[]): { ok: boolean; output: string } {
  const result = spawnSync(command, args, {
    cwd: repoRoot,
    encoding: "utf8",
    timeout: 120_000,
    env: { ...process.env, FORCE_COLOR: "0", NO_COLOR: "1" },
  });
  return { ok: result.status === 0, output: `${result.stdout ?? ""}${result.stderr ?? ""}`.trim() };
}

function main(): number {
  const started = Date.now();
  const { packages, skipped } = publishedPackages();
  const out = mkdtempSync(join(tmpdir(), "powerstrip-pack-"));
  let failures = 0;
  try {
    for (const pkg of packages) {
      const problems = manifestProblems(pkg, existsSync(join(pkg.dir, "README.md")));
      const tarball = pack(pkg, out);
      const publint = runTool(join(repoRoot, "node_modules", ".bin", "publint"), [
        "run",
        tarball,
        "--strict",
        "--level",
        "warning",
      ]);
      if (!publint.ok) problems.push(`publint:\n${publint.output}`);
      const attw = runTool(join(repoRoot, "node_modules", ".bin", "attw"), [
        tarball,
        "--profile",
        "esm-only",
        "--format",
        "ascii",
        "--no-emoji",
      ]);
      if (!attw.ok) problems.push(`attw:\n${attw.output}`);
      if (problems.length === 0) console.log(`ok   ${pkg.name}@${pkg.version}`);
      else {
        failures++;
        for (const problem of problems) console.log(`FAIL ${pkg.name}: ${problem}`);
      }
    }
    for (const name of skipped) console.log(`skip ${name}`);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
  console.log(`${packages.length} packages checked in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return failures === 0 ? 0 : 1;
}

process.exitCode = main();
