import { expect, it } from "vitest";
import { ProtocolErrorCode } from "../errors.js";
import { compileSchema } from "./user-schemas.js";

const configSchema = {
  type: "object",
  additionalProperties: false,
  required: ["label"],
  properties: { label: { type: "string", pattern: "^[a-z.]+$" }, mode: { enum: ["add", "replace"] } },
  "x-ui": "ignored",
};

it("validates with the protocol's field-named errors", () => {
  const validate = compileSchema(configSchema);
  expect(validate({ label: "team" })).toEqual({ ok: true, value: { label: "team" } });
  expect(validate({ mode: "merge", extra: 1 })).toEqual({
    ok: false,
    errors: ["label: is required", "extra: is not a known field", 'mode: must be one of "add", "replace"'],
  });
});

it("refuses an invalid schema with INVALID_SCHEMA", () => {
  expect(() => compileSchema({ type: "thing" })).toThrow(
    expect.objectContaining({ code: ProtocolErrorCode.InvalidSchema }),
  );
});
