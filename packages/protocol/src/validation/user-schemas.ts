import Ajv2020 from "ajv/dist/2020.js";
import addFormats from "ajv-formats";
import { ProtocolError, ProtocolErrorCode } from "../errors.js";
import { formatErrors } from "./format-errors.js";
import type { Validator } from "./validators.js";

// Schemas that adapters bring (configSchema) get their own lenient instance: unknown keywords
// are allowed, and their $ids cannot collide with the protocol's.
const ajv = new Ajv2020({ allErrors: true, verbose: true, allowUnionTypes: true, strict: false });
addFormats(ajv);

/**
 * Compiles a JSON Schema (2020-12), such as an adapter's configSchema, into a validator with the
 * same field-named errors as the protocol's. Throws ProtocolError INVALID_SCHEMA when the schema
 * itself is invalid.
 */
export function compileSchema<T = unknown>(schema: object | boolean): Validator<T> {
  let validate: ReturnType<typeof ajv.compile>;
  try {
    validate = ajv.compile(schema);
  } catch (error) {
    throw new ProtocolError(
      ProtocolErrorCode.InvalidSchema,
      `invalid JSON Schema: ${(error as Error).message}`,
      {
        cause: error,
      },
    );
  }
  const roots = new WeakMap<object, object>();
  if (typeof schema === "object") indexNodes(schema, schema, roots);
  return (value) =>
    validate(value)
      ? { ok: true, value: value as T }
      : { ok: false, errors: formatErrors(validate.errors ?? [], (node) => roots.get(node)) };
}

function indexNodes(node: unknown, root: object, roots: WeakMap<object, object>): void {
  if (node === null || typeof node !== "object") return;
  roots.set(node, root);
  for (const child of Object.values(node)) indexNodes(child, root, roots);
}
