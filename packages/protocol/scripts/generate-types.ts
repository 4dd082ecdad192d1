// Generates src/generated/types.ts from schemas/: `npm run generate -w @powerstrip/protocol`.
// The drift test (src/generated/types.test.ts) runs the same function and compares.
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { compile, type JSONSchema } from "json-schema-to-typescript";

const packageDir = join(dirname(fileURLToPath(import.meta.url)), "..");
const repoRoot = join(packageDir, "..", "..");
export const typesFile = join(packageDir, "src", "generated", "types.ts");

const BASE_URL = "https://powerstrip.dev/schemas/";

/** The schema files that define a message or resource, each becoming a named type. */
const roots: Record<string, string> = {
  HandshakeRequest: "v2/handshake-request.json",
  HandshakeReply: "v2/handshake-reply.json",
  HookCall: "v2/hook-call.json",
  PreHookReply: "v2/pre-hook-reply.json",
  PostHookReply: "v2/post-hook-reply.json",
  JsonPatch: "v2/json-patch.json",
  ErrorReply: "v2/error-reply.json",
  LegacyPreHookCall: "v1/pre-hook-call.json",
  LegacyPreHookReply: "v1/pre-hook-reply.json",
  LegacyPostHookCall: "v1/post-hook-call.json",
  LegacyPostHookReply: "v1/post-hook-reply.json",
  LegacyAdaptersFile: "v1/adapters-file.json",
  AdapterInfo: "admin/v1/adapter-info.json",
  AdapterList: "admin/v1/adapter-list.json",
  LoadRequest: "admin/v1/load-request.json",
  AdminError: "admin/v1/admin-error.json",
  TraceEvent: "admin/v1/trace-event.json",
};

const banner = `// Generated from packages/protocol/schemas by \`npm run generate -w @powerstrip/protocol\`. Do not edit:
// change the schemas and regenerate (a unit test fails while this file and the schemas disagree).`;

export async function generateTypes(): Promise<string> {
  const root: JSONSchema = {
    title: "ProtocolMessages",
    description: "Every message and resource of the protocol, by name.",
    type: "object",
    additionalProperties: false,
    required: Object.keys(roots),
    properties: Object.fromEntries(
      Object.entries(roots).map(([name, file]) => [name, { $ref: BASE_URL + file }]),
    ),
  };
  const source = await compile(root, "ProtocolMessages", {
    bannerComment: banner,
    format: false,
    ignoreMinAndMaxItems: true, // string[] reads better than [string, ...string[]]
    unreachableDefinitions: false,
    $refOptions: {
      resolve: {
        http: false,
        file: false,
        // Every $ref, absolute or relative to its file's $id, lands on a local file.
        schemas: {
          order: 1,
          canRead: (file: { url: string }) => file.url.startsWith(BASE_URL),
          read: (file: { url: string }) =>
            forTypes(readSchema(file.url.slice(BASE_URL.length).split("#")[0]!)),
        },
      },
    } as never,
  });
  return formatWithBiome(source);
}

function readSchema(file: string): JSONSchema {
  return JSON.parse(readFileSync(join(packageDir, "schemas", file), "utf8")) as JSONSchema;
}

/**
 * Two quirks of json-schema-to-typescript, straightened out before it sees the schemas: it turns
 * assertion-only combinators (`anyOf: [{required: [a]}, ...]`) into index-signature intersections
 * (TypeScript cannot state them anyway), and it declares a new type for every `$ref` that has a
 * sibling `description` (AdapterName1, AdapterName2...).
 */
function forTypes(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(forTypes);
  if (node === null || typeof node !== "object") return node;
  if ("$ref" in node) return { $ref: node.$ref };
  const copy: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(node)) {
    if ((key === "anyOf" || key === "oneOf") && Array.isArray(value) && value.every(isRequiredOnly)) continue;
    copy[key] = forTypes(value);
  }
  return copy;
}

function isRequiredOnly(branch: unknown): boolean {
  return typeof branch === "object" && branch !== null && Object.keys(branch).join() === "required";
}

/** The committed file is exactly what `biome check` wants, so formatting never reads as drift. */
function formatWithBiome(source: string): string {
  const biome = createRequire(import.meta.url).resolve("@biomejs/biome/bin/biome");
  const result = spawnSync(process.execPath, [biome, "format", `--stdin-file-path=${typesFile}`], {
    cwd: repoRoot,
    input: source,
    encoding: "utf8",
  });
  if (result.status !== 0) throw new Error(`biome format failed: ${result.stderr}`);
  return result.stdout;
}
