import { describe, expect, it } from "vitest";
import { defineAdapter } from "./define.js";
import { AdapterDefinitionError, AdapterSdkErrorCode } from "./errors.js";
import type { AdapterDefinition } from "./types.js";

const pre = () => undefined;

/** Definitions a JavaScript author can write, which TypeScript would mostly refuse to compile. */
function refusal(definition: unknown): AdapterDefinitionError {
  try {
    defineAdapter(definition as AdapterDefinition);
  } catch (error) {
    expect(error).toBeInstanceOf(AdapterDefinitionError);
    return error as AdapterDefinitionError;
  }
  throw new Error("defineAdapter accepted the definition");
}

describe("defineAdapter", () => {
  it("declares one protocol hook per key and implemented stage, in order", () => {
    const adapter = defineAdapter({
      name: "label-injector",
      hooks: {
        "POST /containers/create": { pre, post: pre },
        "POST /containers/{id}/start": { post: pre, needsBody: false },
      },
    });
    expect(adapter.name).toBe("label-injector");
    expect(adapter.hooks).toEqual([
      {
        key: "POST /containers/create",
        method: "POST",
        path: "/containers/create",
        stage: "pre",
        needsBody: true,
      },
      {
        key: "POST /containers/create",
        method: "POST",
        path: "/containers/create",
        stage: "post",
        needsBody: true,
      },
      {
        key: "POST /containers/{id}/start",
        method: "POST",
        path: "/containers/{id}/start",
        stage: "post",
        needsBody: false,
      },
    ]);
    expect(Object.isFrozen(adapter)).toBe(true);
  });

  it.each([
    ["an adapter with no hooks", { name: "a", hooks: {} }, "hooks: the adapter hooks nothing"],
    ["hooks that are not an object", { name: "a", hooks: [] }, "hooks: must be an object"],
    [
      "a hook with neither pre nor post",
      { name: "a", hooks: { "GET /x": { needsBody: false } } },
      'hooks["GET /x"]: implements neither pre nor post',
    ],
    [
      "a misspelled stage",
      { name: "a", hooks: { "GET /x": { Pre: pre } } },
      'hooks["GET /x"].Pre: is not a known field (expected pre, post, needsBody)',
    ],
    [
      "a stage that is not a function",
      { name: "a", hooks: { "GET /x": { pre: "yes" } } },
      'hooks["GET /x"].pre: must be a function',
    ],
    [
      "a typo'd method",
      { name: "a", hooks: { "PSOT /x": { pre } } },
      'hooks["PSOT /x"]: method PSOT must be one of GET, HEAD, POST, PUT, DELETE, PATCH, OPTIONS, *',
    ],
    [
      "a lower-case method",
      { name: "a", hooks: { "post /x": { pre } } },
      'hooks["post /x"]: hook pattern "post /x": method "post" must be upper-case',
    ],
    [
      "a key without a path",
      { name: "a", hooks: { POST: { pre } } },
      'hooks["POST"]: hook pattern "POST": must be a method, one space and a path',
    ],
    [
      "a versioned path",
      { name: "a", hooks: { "GET /v1.41/x": { pre } } },
      "must be written without the /vX.Y prefix",
    ],
    ["a repeated param", { name: "a", hooks: { "GET /a/{id}/b/{id}": { pre } } }, "{id} appears twice"],
    [
      "a bad name",
      { name: "Label Injector", hooks: { "GET /x": { pre } } },
      "name: must be lower-case letters",
    ],
    ["no name", { hooks: { "GET /x": { pre } } }, "name: is required"],
    [
      "a priority out of range",
      { name: "a", priority: -1, hooks: { "GET /x": { pre } } },
      "priority: must be at least 0",
    ],
    [
      "an unknown policy",
      { name: "a", failurePolicy: "open", hooks: { "GET /x": { pre } } },
      'failurePolicy: must be one of "fail", "ignore"',
    ],
    [
      "a timeout too long",
      { name: "a", timeoutMs: 120_000, hooks: { "GET /x": { pre } } },
      "timeoutMs: must be at most 60000",
    ],
    [
      "an empty version",
      { name: "a", version: "", hooks: { "GET /x": { pre } } },
      "version: must not be empty",
    ],
    [
      "a misspelled option",
      { name: "a", failurepolicy: "ignore", hooks: { "GET /x": { pre } } },
      "failurepolicy: is not a known field",
    ],
    [
      "an invalid configSchema",
      { name: "a", configSchema: { type: "thing" }, hooks: { "GET /x": { pre } } },
      "configSchema: invalid JSON Schema",
    ],
    [
      "a configure that is not a function",
      { name: "a", configure: true, hooks: { "GET /x": { pre } } },
      "configure: must be a function",
    ],
  ])("refuses %s", (_what, definition, problem) => {
    const error = refusal(definition);
    expect(error.code).toBe(AdapterSdkErrorCode.InvalidDefinition);
    expect(
      error.problems.some((line) => line.includes(problem)),
      JSON.stringify(error.problems),
    ).toBe(true);
    expect(error.message).toContain(problem);
  });

  it("names every problem at once", () => {
    const error = refusal({ name: "A", hooks: { "GET /x": {}, "PSOT /y": { pre } } });
    expect(error.problems).toHaveLength(2);
    expect(error.message).toMatch(/^adapter A: /);
  });

  it("refuses a definition that is not an object", () => {
    expect(refusal(undefined).problems).toEqual(["the definition must be an object"]);
  });
});
