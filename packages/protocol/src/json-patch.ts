import { applyPatch, type Operation } from "rfc6902";
import { ProtocolError, ProtocolErrorCode } from "./errors.js";
import type { JsonPatch } from "./generated/types.js";
import { validateJsonPatch } from "./validation/validators.js";

/**
 * Applies an RFC 6902 JSON Patch, all or nothing, and returns the new document. The document
 * passed in is never changed. A patch that is malformed or does not apply throws ProtocolError
 * PATCH_FAILED naming the operation.
 */
export function applyJsonPatch(document: unknown, patch: JsonPatch): unknown {
  const valid = validateJsonPatch(patch);
  if (!valid.ok) {
    throw new ProtocolError(ProtocolErrorCode.PatchFailed, `invalid JSON Patch: ${valid.errors.join("; ")}`, {
      errors: valid.errors,
    });
  }
  // rfc6902 patches in place and cannot replace the root, so it works on a copy held in a box:
  // "" becomes "/doc", and the caller's document is untouched.
  const box = { doc: structuredClone(document) };
  for (const [index, operation] of patch.entries()) {
    const boxed = { ...operation, path: `/doc${operation.path}` } as Operation;
    if ("from" in operation) (boxed as { from: string }).from = `/doc${operation.from}`;
    const [error] = applyPatch(box, [boxed]);
    if (error) throw patchFailed(index, operation, describe(error));
    if (!("doc" in box)) throw patchFailed(index, operation, "removes the whole document");
  }
  return box.doc;
}

function describe(error: Error): string {
  if (error.name === "TestError") return "the value differs";
  if (error.name === "MissingError") {
    const path = (error as Error & { path?: string }).path ?? "";
    return `nothing at ${JSON.stringify(path.replace(/^\/doc/, ""))}`;
  }
  return error.message;
}

function patchFailed(index: number, operation: JsonPatch[number], reason: string): ProtocolError {
  const target = "from" in operation ? `${operation.from} → ${operation.path}` : operation.path;
  return new ProtocolError(
    ProtocolErrorCode.PatchFailed,
    `JSON Patch operation ${index} (${operation.op} ${target || '""'}) failed: ${reason}`,
  );
}
