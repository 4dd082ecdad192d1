import type { ErrorObject } from "ajv";
import { fieldPath } from "./field-path.js";

/** Finds the file a schema node belongs to, to resolve the local `$ref`s of a discriminated union. */
export type RootOf = (node: object) => object | undefined;

/**
 * Turns ajv's errors (compiled with `allErrors` and `verbose`) into one line per problem, each
 * naming the field: `hooks[0].stage: must be one of "pre", "post"`. Branch errors of a failed
 * anyOf/oneOf are folded into one line, unless the value's type picks a single branch.
 */
export function formatErrors(errors: readonly ErrorObject[], rootOf: RootOf): string[] {
  const hidden = new Set<ErrorObject>();
  const lines = new Map<ErrorObject, string>();
  for (const error of errors) {
    if (error.keyword === "anyOf" || error.keyword === "oneOf") foldBranches(error, errors, hidden, lines);
  }
  const result: string[] = [];
  for (const error of errors) {
    if (hidden.has(error)) continue;
    const line = lines.get(error) ?? formatError(error, rootOf);
    if (line !== null && !result.includes(line)) result.push(line);
  }
  return result;
}

type Schema = Record<string, unknown>;

function foldBranches(
  error: ErrorObject,
  errors: readonly ErrorObject[],
  hidden: Set<ErrorObject>,
  lines: Map<ErrorObject, string>,
): void {
  const branches = (Array.isArray(error.schema) ? error.schema : []) as Schema[];
  const inBranch = (other: ErrorObject, index?: number) =>
    other !== error &&
    other.instancePath.startsWith(error.instancePath) &&
    other.schemaPath.startsWith(`${error.schemaPath}/${index ?? ""}`);
  const path = fieldPath(error.instancePath);
  const requiredOnly = branches.map(requiredOnlyName);
  if (requiredOnly.every((name) => name !== undefined)) {
    const quantity = error.keyword === "anyOf" ? "at least one" : "exactly one";
    lines.set(error, `${path}: must have ${quantity} of ${requiredOnly.join(", ")}`);
    for (const other of errors) if (inBranch(other)) hidden.add(other);
    return;
  }
  const valueType = jsonType(error.data);
  const typed = branches.map((branch, index) => ({ index, types: typesOf(branch) }));
  const matching = typed.filter((branch) => branch.types.includes(valueType));
  if (matching.length === 1) {
    // The value's type says which form was meant: report that form's problems only.
    hidden.add(error);
    for (const other of errors)
      if (inBranch(other) && !inBranch(other, matching[0]!.index)) hidden.add(other);
    return;
  }
  const allTypes = typed.flatMap((branch) => branch.types);
  const description = (error.parentSchema as Schema | undefined)?.description;
  lines.set(
    error,
    allTypes.length > 0
      ? `${path}: must be ${allTypes.map(withArticle).join(" or ")}`
      : `${path}: ${typeof description === "string" ? description : "matches none of the allowed forms"}`,
  );
  for (const other of errors) if (inBranch(other)) hidden.add(other);
}

function formatError(error: ErrorObject, rootOf: RootOf): string | null {
  const params = error.params as Record<string, unknown>;
  const parent = (error.parentSchema ?? {}) as Schema;
  // Errors about an object's keys (propertyNames) carry the key; name it.
  const at = (message: string) =>
    error.propertyName === undefined
      ? `${fieldPath(error.instancePath)}: ${message}`
      : `${fieldPath(error.instancePath)}: key ${JSON.stringify(error.propertyName)} ${message}`;
  switch (error.keyword) {
    case "required":
      return `${fieldPath(error.instancePath, String(params.missingProperty))}: is required`;
    case "dependentRequired":
      return `${fieldPath(error.instancePath, String(params.missingProperty))}: is required when ${params.property} is present`;
    case "additionalProperties":
      return `${fieldPath(error.instancePath, String(params.additionalProperty))}: is not a known field`;
    case "enum":
      return at(oneOf(params.allowedValues as unknown[]));
    case "const":
      return at(`must be ${JSON.stringify(params.allowedValue)}`);
    case "type":
      return at(`must be ${String(params.type).split(",").map(withArticle).join(" or ")}`);
    case "pattern": {
      // Pattern-bearing schemas describe themselves as a noun phrase: "must be <description>".
      const expected =
        typeof parent.description === "string" ? parent.description : `a string matching ${params.pattern}`;
      return at(`must be ${expected} (got ${JSON.stringify(error.data)})`);
    }
    case "format":
      return at(
        `must be ${formatNames[String(params.format)] ?? `a ${params.format}`} (got ${JSON.stringify(error.data)})`,
      );
    case "minimum":
    case "maximum":
    case "exclusiveMinimum":
    case "exclusiveMaximum":
      return at(`must be ${comparisonWords[String(params.comparison)] ?? params.comparison} ${params.limit}`);
    case "minLength":
      return at(
        params.limit === 1 ? "must not be empty" : `must be at least ${params.limit} characters long`,
      );
    case "maxLength":
      return at(`must be at most ${params.limit} characters long`);
    case "minItems":
      return at(params.limit === 1 ? "must not be empty" : `must have at least ${params.limit} items`);
    case "maxItems":
      return at(`must have at most ${params.limit} items`);
    case "minProperties":
      return at(params.limit === 1 ? "must not be empty" : `must have at least ${params.limit} fields`);
    case "uniqueItems":
      return at(`must not repeat items ([${params.j}] and [${params.i}] are equal)`);
    case "not":
      return formatNot(error, parent);
    case "discriminator":
      return formatDiscriminator(error, parent, rootOf);
    case "if":
    case "propertyNames":
      // The failing `then`/`else` branch and the offending key have their own lines.
      return null;
    case "false schema":
      return at("is not allowed");
    default:
      return at(error.message ?? `fails ${error.keyword}`);
  }
}

/** `not: {required: [a]}` forbids a field; `not: {required: [a, b]}` forbids a combination. */
function formatNot(error: ErrorObject, parent: Schema): string {
  const required = (error.schema as Schema | undefined)?.required;
  const description = typeof parent.description === "string" ? parent.description : undefined;
  if (Array.isArray(required) && required.length === 1) {
    return `${fieldPath(error.instancePath, String(required[0]))}: ${description ?? "is not allowed"}`;
  }
  if (Array.isArray(required) && required.length > 1) {
    return `${fieldPath(error.instancePath)}: ${required.join(" and ")} are mutually exclusive`;
  }
  return `${fieldPath(error.instancePath)}: ${description ?? "is not allowed"}`;
}

function formatDiscriminator(error: ErrorObject, parent: Schema, rootOf: RootOf): string {
  const { tag, tagValue } = error.params as { tag: string; tagValue: unknown };
  const path = fieldPath(error.instancePath, tag);
  if (tagValue === undefined) return `${path}: is required`;
  if (typeof tagValue !== "string") return `${path}: must be a string`;
  const values = discriminatorValues(parent, tag, rootOf);
  return values.length > 0
    ? `${path}: ${oneOf(values)}`
    : `${path}: ${JSON.stringify(tagValue)} is not known`;
}

/** The tag values a discriminated union accepts, read from its (possibly `$ref`'d) branches. */
function discriminatorValues(union: Schema, tag: string, rootOf: RootOf): unknown[] {
  const root = rootOf(union);
  const branches = Array.isArray(union.oneOf) ? (union.oneOf as Schema[]) : [];
  return branches.flatMap((branch) => {
    const resolved = typeof branch.$ref === "string" && root ? resolveLocal(root, branch.$ref) : branch;
    const property = (resolved?.properties as Record<string, Schema> | undefined)?.[tag];
    if (property === undefined) return [];
    return "const" in property ? [property.const] : Array.isArray(property.enum) ? property.enum : [];
  });
}

function resolveLocal(root: object, ref: string): Schema | undefined {
  if (!ref.startsWith("#/")) return undefined;
  let node: unknown = root;
  for (const token of ref.slice(2).split("/")) {
    node = (node as Record<string, unknown> | undefined)?.[token.replaceAll("~1", "/").replaceAll("~0", "~")];
  }
  return node as Schema | undefined;
}

function requiredOnlyName(branch: Schema): string | undefined {
  const keys = Object.keys(branch);
  const required = branch.required;
  if (keys.length !== 1 || !Array.isArray(required) || required.length !== 1) return undefined;
  return String(required[0]);
}

function typesOf(branch: Schema): string[] {
  if (typeof branch.type === "string") return [branch.type];
  return Array.isArray(branch.type) ? branch.type.map(String) : [];
}

function jsonType(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "array";
  if (Number.isInteger(value)) return "integer";
  return typeof value;
}

const formatNames: Record<string, string> = {
  "date-time": "an RFC 3339 date-time such as 2025-01-31T12:00:00Z",
};

const comparisonWords: Record<string, string> = {
  ">=": "at least",
  "<=": "at most",
  ">": "greater than",
  "<": "less than",
};

function oneOf(values: readonly unknown[]): string {
  const quoted = values.map((value) => JSON.stringify(value));
  return quoted.length === 1 ? `must be ${quoted[0]}` : `must be one of ${quoted.join(", ")}`;
}

function withArticle(type: string): string {
  if (type === "null") return "null";
  return /^[aeiou]/.test(type) ? `an ${type}` : `a ${type}`;
}
