import { compileSchema, parseHookPattern, validateHandshakeReply } from "@powerstrip/protocol";
import { AdapterDefinitionError } from "./errors.js";
import { handshakeReplyFor } from "./handshake.js";
import type { Adapter, AdapterDefinition, DeclaredHook, HookKey } from "./types.js";

const METHODS = new Set(["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "*"]);
const DEFINITION_FIELDS = new Set([
  "name",
  "version",
  "priority",
  "failurePolicy",
  "timeoutMs",
  "credentials",
  "configSchema",
  "configure",
  "hooks",
]);
const HANDLER_FIELDS = new Set(["pre", "post", "needsBody"]);

/**
 * Checks an adapter definition and returns the adapter. Implementing `pre` or `post` for a key is
 * subscribing to it; a definition that hooks nothing, or that the handshake would not accept, is
 * refused with an AdapterDefinitionError naming every problem.
 */
export function defineAdapter<const Keys extends HookKey>(definition: AdapterDefinition<Keys>): Adapter {
  const name = typeof definition?.name === "string" ? definition.name : "(unnamed)";
  if (definition === null || typeof definition !== "object") {
    throw new AdapterDefinitionError(name, ["the definition must be an object"]);
  }
  const problems = [...unknownFields(definition, DEFINITION_FIELDS, "")];
  const hooks = declaredHooks(definition as AdapterDefinition, problems);
  if (definition.configure !== undefined && typeof definition.configure !== "function") {
    problems.push("configure: must be a function");
  }
  if (definition.configSchema !== undefined) {
    try {
      compileSchema(definition.configSchema);
    } catch (error) {
      problems.push(`configSchema: ${(error as Error).message}`);
    }
  }
  if (problems.length === 0) {
    // The handshake reply this adapter will send states the rest (name, priority...) exactly.
    const draft = handshakeReplyFor(definition as AdapterDefinition, hooks, definition.name);
    const reply = validateHandshakeReply(JSON.parse(JSON.stringify(draft)));
    if (!reply.ok)
      problems.push(...reply.errors.filter((line) => !line.startsWith("hooks")).map(renameReplyField));
  }
  if (problems.length > 0) throw new AdapterDefinitionError(name, problems);
  return Object.freeze({ name, definition: definition as AdapterDefinition, hooks: Object.freeze(hooks) });
}

function declaredHooks(definition: AdapterDefinition, problems: string[]): DeclaredHook[] {
  const { hooks } = definition;
  if (hooks === null || typeof hooks !== "object" || Array.isArray(hooks)) {
    problems.push('hooks: must be an object such as { "POST /containers/create": { pre(ctx) {...} } }');
    return [];
  }
  const declared: DeclaredHook[] = [];
  for (const [key, handlers] of Object.entries(hooks) as Array<[HookKey, Record<string, unknown>]>) {
    const at = `hooks[${JSON.stringify(key)}]`;
    let pattern: ReturnType<typeof parseHookPattern>;
    try {
      pattern = parseHookPattern(key);
    } catch (error) {
      problems.push(`${at}: ${(error as Error).message}`);
      continue;
    }
    if (!METHODS.has(pattern.method)) {
      problems.push(`${at}: method ${pattern.method} must be one of ${[...METHODS].join(", ")}`);
      continue;
    }
    if (handlers === null || typeof handlers !== "object") {
      problems.push(`${at}: must be an object with pre(ctx) and/or post(ctx)`);
      continue;
    }
    problems.push(...unknownFields(handlers, HANDLER_FIELDS, at));
    for (const stage of ["pre", "post"] as const) {
      if (handlers[stage] !== undefined && typeof handlers[stage] !== "function") {
        problems.push(`${at}.${stage}: must be a function`);
      }
    }
    if (handlers.needsBody !== undefined && typeof handlers.needsBody !== "boolean") {
      problems.push(`${at}.needsBody: must be a boolean`);
    }
    const stages = (["pre", "post"] as const).filter((stage) => typeof handlers[stage] === "function");
    if (stages.length === 0) problems.push(`${at}: implements neither pre nor post`);
    for (const stage of stages) {
      declared.push({
        key,
        method: pattern.method,
        path: pattern.path,
        stage,
        needsBody: handlers.needsBody !== false,
      });
    }
  }
  if (declared.length === 0 && problems.length === 0) problems.push("hooks: the adapter hooks nothing");
  return declared;
}

function unknownFields(object: object, known: Set<string>, at: string): string[] {
  return Object.keys(object)
    .filter((field) => !known.has(field))
    .map(
      (field) =>
        `${at === "" ? field : `${at}.${field}`}: is not a known field (expected ${[...known].join(", ")})`,
    );
}

/** The reply calls it adapterVersion; the definition calls it version. */
function renameReplyField(line: string): string {
  return line.startsWith("adapterVersion:") ? `version:${line.slice("adapterVersion:".length)}` : line;
}
