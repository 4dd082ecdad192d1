// Keeps the README's examples identical to examples/**/*.json, which the unit tests validate:
// each `<!-- example: v2/handshake-reply/label-injector.json -->` marker is followed by a json
// block holding that file, verbatim.
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const packageDir = join(dirname(fileURLToPath(import.meta.url)), "..");
export const readmeFile = join(packageDir, "README.md");
export const examplesDir = join(packageDir, "examples");

const MARKER = /<!-- example: (\S+) -->\n```json\n[\s\S]*?```/g;

/** Every example file, relative to examples/, e.g. `v2/handshake-reply/label-injector.json`. */
export function listExamples(): string[] {
  return (readdirSync(examplesDir, { recursive: true }) as string[])
    .filter((file) => file.endsWith(".json"))
    .map((file) => relative(examplesDir, join(examplesDir, file)))
    .sort();
}

export function readExample(file: string): string {
  return readFileSync(join(examplesDir, file), "utf8");
}

/** The README with every marked block refreshed from its example file. */
export function embedExamples(readme = readFileSync(readmeFile, "utf8")): string {
  return readme.replace(MARKER, (_block, file: string) => {
    const text = readExample(file).trimEnd();
    return `<!-- example: ${file} -->\n\`\`\`json\n${text}\n\`\`\``;
  });
}

/** The example files the README embeds, in order. */
export function embeddedExamples(readme = readFileSync(readmeFile, "utf8")): string[] {
  return [...readme.matchAll(MARKER)].map((match) => match[1]!);
}
