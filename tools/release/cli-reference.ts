// Renders docs/cli-reference.md from the `powerstrip` command's own help, so the reference and
// the command cannot disagree. `npm run docs:cli` writes it; cli-reference.test.ts fails when stale.
import { join } from "node:path";
import { run } from "@powerstrip/cli";
import { repoRoot } from "./packages.js";

export const cliReferenceFile = join(repoRoot, "docs", "cli-reference.md");

/** The commands, in the order of `powerstrip --help`. */
export const COMMANDS = [
  ["load"],
  ["reload"],
  ["logs"],
  ["trace"],
  ["unload"],
  ["ls"],
  ["inspect"],
  ["import"],
  ["install-docker-plugin"],
  ["new", "adapter"],
] as const;

async function help(argv: readonly string[]): Promise<string> {
  let text = "";
  const io = { stdout: { write: (t: string) => (text += t) }, stderr: { write: () => {} }, env: {} };
  // Commander wraps help to the terminal's width: pin it, so the file does not depend on who ran it.
  const columns = process.stdout.columns;
  process.stdout.columns = 100;
  try {
    await run([...argv, "--help"], io);
  } finally {
    process.stdout.columns = columns;
  }
  return text.trimEnd();
}

export async function renderCliReference(): Promise<string> {
  const lines = [
    "# CLI reference",
    "",
    "<!-- Generated from the command's own help by `npm run docs:cli`; do not edit by hand. -->",
    "",
    "`powerstrip` talks to a running proxy's admin API (`--admin`, env `POWERSTRIP_ADMIN`, default",
    "`unix:///run/powerstrip/admin.sock`). It exits 0 on success; otherwise it prints one line,",
    "`powerstrip: <message>`, on stderr and exits 1, or 2 when the command line itself is wrong.",
    "Commands that print data take `--json`. The same commands run as a Docker CLI plugin,",
    "`docker powerstrip COMMAND`, after `powerstrip install-docker-plugin`. More detail and examples:",
    "[`packages/cli/README.md`](../packages/cli/README.md); the daemon's flags are in the",
    "[root README](../README.md#run-the-proxy).",
    "",
    "## powerstrip",
    "",
    "```text",
    await help([]),
    "```",
  ];
  for (const argv of COMMANDS) {
    lines.push("", `## powerstrip ${argv.join(" ")}`, "", "```text", await help(argv), "```");
  }
  return `${lines.join("\n")}\n`;
}
