// Renders docs/protocol-reference.md from packages/protocol/schemas, the protocol's source of truth.
// `npm run docs:protocol` writes it; protocol-reference.test.ts fails when the committed file is stale.
import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { repoRoot } from "./packages.js";

export const schemasDir = join(repoRoot, "packages", "protocol", "schemas");
export const referenceFile = join(repoRoot, "docs", "protocol-reference.md");

type Schema = Record<string, unknown> & {
  title?: string;
  description?: string;
  properties?: Record<string, Schema>;
  required?: string[];
  $defs?: Record<string, Schema>;
};

/** Schema files relative to schemas/, grouped in the order a reader needs them. */
export function schemaFiles(): string[] {
  const files = (readdirSync(schemasDir, { recursive: true }) as string[])
    .filter((file) => file.endsWith(".json"))
    .map((file) => file.split("\\").join("/"));
  const rank = (file: string) => (file.startsWith("v2/") ? 0 : file.startsWith("v1/") ? 1 : 2);
  return files.sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
}

function anchor(file: string, def?: string): string {
  return `${file}${def ? `-${def}` : ""}`.replace(/[^a-z0-9]+/gi, "-").toLowerCase();
}

function cell(text: string): string {
  return text.replace(/\|/g, "\\|").replace(/\n+/g, " ");
}

/** A schema's type, written short: `string`, `integer 100–599`, `"pre" \| "post"`, a link to a $ref. */
function typeOf(schema: Schema | boolean | undefined, file: string): string {
  if (schema === undefined || schema === true) return "any";
  if (schema === false) return "never";
  if ("$ref" in schema && typeof schema.$ref === "string") {
    const [target = "", pointer = ""] = schema.$ref.split("#");
    const targetFile = target === "" ? file : join(file, "..", target).split("\\").join("/");
    const def = pointer.replace(/^\/\$defs\//, "");
    const label = def || targetFile;
    return `[${label}](#${anchor(targetFile, def || undefined)})`;
  }
  if ("const" in schema) return `\`${JSON.stringify(schema.const)}\``;
  if (Array.isArray(schema.enum)) return schema.enum.map((v) => `\`${JSON.stringify(v)}\``).join(" \\| ");
  for (const key of ["oneOf", "anyOf"] as const) {
    const options = schema[key];
    if (Array.isArray(options)) return options.map((option) => typeOf(option as Schema, file)).join(" \\| ");
  }
  const type = Array.isArray(schema.type) ? schema.type.join(" \\| ") : (schema.type as string | undefined);
  if (type === "array") return `array of ${typeOf(schema.items as Schema | undefined, file)}`;
  const bounds: string[] = [];
  if (typeof schema.minimum === "number" || typeof schema.maximum === "number") {
    bounds.push(`${schema.minimum ?? ""}–${schema.maximum ?? ""}`);
  }
  if (typeof schema.pattern === "string") bounds.push(`\`${schema.pattern}\``);
  if (typeof schema.format === "string") bounds.push(`(${schema.format})`);
  return [type ?? (schema.properties ? "object" : "any"), ...bounds].join(" ");
}

function propertiesTable(schema: Schema, file: string): string[] {
  const properties = schema.properties ?? {};
  const names = Object.keys(properties);
  if (names.length === 0) return [];
  const required = new Set(schema.required ?? []);
  const lines = ["| Field | Type | Required | Description |", "| --- | --- | --- | --- |"];
  for (const name of names) {
    const property = properties[name]!;
    const description = typeof property.description === "string" ? property.description : "";
    lines.push(
      `| \`${name}\` | ${cell(typeOf(property, file))} | ${required.has(name) ? "yes" : ""} | ${cell(description)} |`,
    );
  }
  if (schema.additionalProperties === false) lines.push("", "No other fields are allowed.");
  return lines;
}

function section(
  level: string,
  heading: string,
  id: string,
  schema: Schema,
  file: string,
  note?: string,
): string[] {
  const lines = [`<a id="${id}"></a>`, "", `${level} ${heading}`, ""];
  if (typeof schema.description === "string") lines.push(schema.description, "");
  if (note !== undefined) lines.push(note, "");
  const table = propertiesTable(schema, file);
  if (table.length > 0) lines.push(...table, "");
  else if (schema.$defs === undefined || schema.oneOf !== undefined || schema.anyOf !== undefined)
    lines.push(`Type: ${typeOf(schema, file)}`, "");
  return lines;
}

/** The whole reference, deterministic: same schemas, same bytes. */
export function renderProtocolReference(): string {
  const files = schemaFiles();
  const lines = [
    "# Protocol reference",
    "",
    "<!-- Generated from packages/protocol/schemas by `npm run docs:protocol`; do not edit by hand. -->",
    "",
    "Every message of the Powerstrip adapter protocol and of the admin API, field by field, as the",
    "JSON Schemas in [`@powerstrip/protocol`](../packages/protocol/README.md) define them (the schemas",
    "ship in the package under `schemas/`). The protocol README explains the flow with examples; this",
    "page is the exhaustive list. v2 is the current protocol, v1 the 2015 prototype's (legacy",
    "adapters), admin/v1 the admin API that `powerstrip` talks to.",
    "",
    "## Schemas",
    "",
    ...files.map((file) => {
      const schema = JSON.parse(readFileSync(join(schemasDir, file), "utf8")) as Schema;
      return `- [\`${file}\`](#${anchor(file)}) — ${schema.title ?? file}`;
    }),
    "",
  ];
  for (const file of files) {
    const schema = JSON.parse(readFileSync(join(schemasDir, file), "utf8")) as Schema;
    const id = typeof schema.$id === "string" ? ` (\`$id\` ${schema.$id})` : "";
    const note = `Schema: [\`schemas/${file}\`](../${relative(repoRoot, join(schemasDir, file))})${id}.`;
    lines.push(
      ...section("##", `\`${file}\`: ${schema.title ?? ""}`.trimEnd(), anchor(file), schema, file, note),
    );
    for (const [name, def] of Object.entries(schema.$defs ?? {})) {
      lines.push(
        ...section("###", `${def.title ?? name} (\`#/$defs/${name}\`)`, anchor(file, name), def, file),
      );
    }
  }
  return `${lines.join("\n").trimEnd()}\n`;
}
