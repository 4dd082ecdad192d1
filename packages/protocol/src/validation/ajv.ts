import type { ErrorObject, ValidateFunction } from "ajv";
import Ajv2020 from "ajv/dist/2020.js";
import addFormats from "ajv-formats";
import { type JsonSchema, type SchemaName, schemas } from "../schemas.js";
import { formatErrors } from "./format-errors.js";

// One instance, every schema added up front, so cross-file $refs resolve by $id.
const ajv = new Ajv2020({
  allErrors: true, // report every problem at once, not the first
  verbose: true, // errors carry their schema, which the messages quote
  discriminator: true, // oneOf on "action"/"op" reports the chosen branch's errors only
  allowUnionTypes: true,
  strictTypes: false,
});
addFormats(ajv, ["date-time"]);
for (const schema of Object.values(schemas)) ajv.addSchema(schema);

// Which file each schema node belongs to, to resolve local refs when quoting a union's options.
const rootOf = new WeakMap<object, object>();
for (const schema of Object.values(schemas)) indexNodes(schema, schema);

function indexNodes(node: unknown, root: JsonSchema): void {
  if (node === null || typeof node !== "object") return;
  rootOf.set(node, root);
  for (const child of Object.values(node)) indexNodes(child, root);
}

/** Compiles (once) the schema of `name` and returns a function giving field-named error lines. */
export function compile(name: SchemaName): (value: unknown) => string[] {
  const id = schemas[name].$id as string;
  const validate = ajv.getSchema(id) as ValidateFunction | undefined;
  if (validate === undefined) throw new Error(`schema ${id} is not registered`);
  return (value) =>
    validate(value) ? [] : formatErrors(validate.errors as ErrorObject[], (node) => rootOf.get(node));
}
