import { ProtocolError, ProtocolErrorCode } from "./errors.js";
import type { JsonPatch } from "./generated/types.js";
import { exceedsJsonDepth, MAX_JSON_DEPTH } from "./json-depth.js";
import { validateJsonPatch } from "./validation/validators.js";

/**
 * Applies an RFC 6902 JSON Patch, all or nothing, and returns the new document. The document
 * passed in is never changed. A patch that is malformed or does not apply throws ProtocolError
 * PATCH_FAILED naming the operation.
 *
 * Pointers see a document's own members only: `/toString` or `/__proto__/x` name members a JSON
 * document may have, never what JavaScript objects inherit, so a patch can neither read nor
 * change a prototype.
 */
export function applyJsonPatch(document: unknown, patch: JsonPatch): unknown {
  const valid = validateJsonPatch(patch);
  if (!valid.ok) {
    throw new ProtocolError(ProtocolErrorCode.PatchFailed, `invalid JSON Patch: ${valid.errors.join("; ")}`, {
      errors: valid.errors,
    });
  }
  if (exceedsJsonDepth(document, MAX_JSON_DEPTH)) throw tooDeep("the document");
  if (patch.some((operation) => "value" in operation && exceedsJsonDepth(operation.value, MAX_JSON_DEPTH)))
    throw tooDeep("a value of the patch");
  let doc = copy(document);
  for (const [index, operation] of patch.entries()) {
    try {
      doc = apply(doc, operation);
    } catch (error) {
      if (!(error instanceof PatchStepError)) throw error;
      throw patchFailed(index, operation, error.message);
    }
  }
  if (exceedsJsonDepth(doc, MAX_JSON_DEPTH)) throw tooDeep("the patched document");
  return doc;
}

function tooDeep(what: string): ProtocolError {
  return new ProtocolError(
    ProtocolErrorCode.PatchFailed,
    `JSON Patch failed: ${what} is nested deeper than ${MAX_JSON_DEPTH} levels`,
  );
}

/** Why one operation does not apply; applyJsonPatch adds which operation it was. */
class PatchStepError extends Error {}

type Container = Record<string, unknown> | unknown[];

function apply(doc: unknown, operation: JsonPatch[number]): unknown {
  switch (operation.op) {
    case "add":
      return add(doc, operation.path, copy(operation.value));
    case "remove":
      return remove(doc, operation.path).doc;
    case "replace":
      if (operation.path === "") return copy(operation.value);
      get(doc, operation.path);
      return add(remove(doc, operation.path).doc, operation.path, copy(operation.value));
    case "move": {
      if (operation.path === operation.from) {
        get(doc, operation.from);
        return doc;
      }
      if (operation.path.startsWith(`${operation.from}/`))
        throw new PatchStepError("cannot move a value into itself");
      const removed = remove(doc, operation.from);
      return add(removed.doc, operation.path, removed.value);
    }
    case "copy":
      return add(doc, operation.path, copy(get(doc, operation.from)));
    case "test":
      if (!equal(get(doc, operation.path), operation.value)) throw new PatchStepError("the value differs");
      return doc;
  }
}

/** RFC 6901: "" is the document; "/a~1b/0" is ["a/b", "0"]. */
function tokens(pointer: string): string[] {
  if (pointer === "") return [];
  return pointer
    .slice(1)
    .split("/")
    .map((token) => token.replaceAll("~1", "/").replaceAll("~0", "~"));
}

function missing(pointer: string): PatchStepError {
  return new PatchStepError(`nothing at ${JSON.stringify(pointer)}`);
}

/** The value at `pointer`, or PatchStepError. */
function get(doc: unknown, pointer: string): unknown {
  let value = doc;
  for (const token of tokens(pointer)) {
    const child = member(value, token);
    if (!child.found) throw missing(pointer);
    value = child.value;
  }
  return value;
}

/** An own member of an object, or an element of an array by RFC 6901 index. */
function member(container: unknown, token: string): { found: boolean; value?: unknown } {
  if (Array.isArray(container)) {
    const index = arrayIndex(token);
    return index !== undefined && index < container.length
      ? { found: true, value: container[index] }
      : { found: false };
  }
  if (isObject(container) && Object.hasOwn(container, token)) return { found: true, value: container[token] };
  return { found: false };
}

/** Digits without a leading zero; anything else is no index. */
function arrayIndex(token: string): number | undefined {
  return /^(?:0|[1-9][0-9]{0,14})$/.test(token) ? Number(token) : undefined;
}

/** The container a pointer's last token is in, and that token. */
function parentOf(doc: unknown, pointer: string): { parent: Container; key: string } {
  const all = tokens(pointer);
  const key = all.pop()!;
  let parent = doc;
  for (const token of all) {
    const child = member(parent, token);
    if (!child.found) throw missing(pointer);
    parent = child.value;
  }
  if (!Array.isArray(parent) && !isObject(parent)) throw missing(pointer);
  return { parent, key };
}

function add(doc: unknown, pointer: string, value: unknown): unknown {
  if (pointer === "") return value;
  const { parent, key } = parentOf(doc, pointer);
  if (Array.isArray(parent)) {
    const index = key === "-" ? parent.length : arrayIndex(key);
    if (index === undefined || index > parent.length) throw missing(pointer);
    parent.splice(index, 0, value);
  } else {
    // defineProperty, not assignment: a member named "__proto__" stays a plain member.
    Object.defineProperty(parent, key, { value, enumerable: true, writable: true, configurable: true });
  }
  return doc;
}

function remove(doc: unknown, pointer: string): { doc: unknown; value: unknown } {
  if (pointer === "") throw new PatchStepError("removes the whole document");
  const { parent, key } = parentOf(doc, pointer);
  const child = member(parent, key);
  if (!child.found) throw missing(pointer);
  if (Array.isArray(parent)) parent.splice(arrayIndex(key)!, 1);
  else delete parent[key];
  return { doc, value: child.value };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * A deep copy of JSON data, own members only (so "__proto__" members are copied as members).
 * Iterative: a patch can make a document deep, and the stack must not be what stops it.
 */
function copy(value: unknown): unknown {
  const fresh = (source: unknown): unknown =>
    Array.isArray(source) ? new Array(source.length) : isObject(source) ? {} : source;
  const root = fresh(value);
  const pending: [unknown, unknown][] = root === value ? [] : [[value, root]];
  for (let next = pending.pop(); next !== undefined; next = pending.pop()) {
    const [source, target] = next as [Container, Container];
    for (const key of Object.keys(source)) {
      const child = (source as Record<string, unknown>)[key];
      const made = fresh(child);
      if (made !== child) pending.push([child, made]);
      Object.defineProperty(target, key, {
        value: made,
        enumerable: true,
        writable: true,
        configurable: true,
      });
    }
  }
  return root;
}

/** RFC 6902 §4.6: same type, same value; objects by members regardless of order. */
function equal(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a)) return Array.isArray(b) && a.length === b.length && a.every((x, i) => equal(x, b[i]));
  if (isObject(a) && isObject(b)) {
    const keys = Object.keys(a);
    return (
      keys.length === Object.keys(b).length &&
      keys.every((key) => Object.hasOwn(b, key) && equal(a[key], b[key]))
    );
  }
  return false;
}

function patchFailed(index: number, operation: JsonPatch[number], reason: string): ProtocolError {
  const target = "from" in operation ? `${operation.from} → ${operation.path}` : operation.path;
  return new ProtocolError(
    ProtocolErrorCode.PatchFailed,
    `JSON Patch operation ${index} (${operation.op} ${target || '""'}) failed: ${reason}`,
  );
}
