import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { listExamples, readExample } from "../../scripts/embed-examples.js";
import { CREDENTIAL_HEADERS, EDITABLE_REQUEST_HEADERS, PROXY_MANAGED_HEADERS } from "../constants.js";
import * as validators from "./validators.js";

// Property tests: whatever arrives, a validator answers ok or a list of lines that each name a field
// of the message; and messages built by the protocol's grammar are accepted. Runs are bounded so
// the unit suite stays quick.

const every: Record<string, validators.Validator<unknown>> = {
  "v2/handshake-request": validators.validateHandshakeRequest,
  "v2/handshake-reply": validators.validateHandshakeReply,
  "v2/hook-call": validators.validateHookCall,
  "v2/pre-hook-reply": validators.validatePreHookReply,
  "v2/post-hook-reply": validators.validatePostHookReply,
  "v2/json-patch": validators.validateJsonPatch,
  "v2/error-reply": validators.validateErrorReply,
  "v1/pre-hook-call": validators.validateLegacyPreHookCall,
  "v1/pre-hook-reply": validators.validateLegacyPreHookReply,
  "v1/post-hook-call": validators.validateLegacyPostHookCall,
  "v1/post-hook-reply": validators.validateLegacyPostHookReply,
  "v1/adapters-file": validators.validateLegacyAdaptersFile,
  "admin/v1/adapter-info": validators.validateAdapterInfo,
  "admin/v1/adapter-list": validators.validateAdapterList,
  "admin/v1/load-request": validators.validateLoadRequest,
  "admin/v1/admin-error": validators.validateAdminError,
};
const kinds = Object.keys(every);
const examples = listExamples()
  .filter((file) => kinds.includes(file.slice(0, file.lastIndexOf("/"))))
  .map((file) => ({ kind: file.slice(0, file.lastIndexOf("/")), value: JSON.parse(readExample(file)) }));

/** `hooks[0].stage`, `headers.set["x-a"]`, `(root)`: the field a line names, then `: `. */
const LINE =
  /^(\(root\)|(?:[A-Za-z_$][A-Za-z0-9_$]*|\[\d+\]|\["(?:[^"\\]|\\.)*"\])(?:\.[A-Za-z_$][A-Za-z0-9_$]*|\[\d+\]|\["(?:[^"\\]|\\.)*"\])*): \S/;

function fieldTokens(path: string): string[] {
  if (path === "(root)") return [];
  const tokens: string[] = [];
  for (const [, name, index, quoted] of path.matchAll(
    /(?:^|\.)([A-Za-z_$][A-Za-z0-9_$]*)|\[(\d+)\]|\[("(?:[^"\\]|\\.)*")\]/g,
  ))
    tokens.push(name ?? index ?? (JSON.parse(quoted!) as string));
  return tokens;
}

/** Every line names a field whose parent is really in the message (the field itself may be missing). */
function expectLinesNameFields(value: unknown, errors: readonly string[]): void {
  expect(errors.length).toBeGreaterThan(0);
  for (const line of errors) {
    const match = LINE.exec(line);
    expect(match, `not "<field>: <problem>": ${line}`).not.toBeNull();
    const tokens = fieldTokens(match![1]!);
    let node: unknown = value;
    for (const token of tokens.slice(0, -1)) {
      expect(node !== null && typeof node === "object" && Object.hasOwn(node, token), line).toBe(true);
      node = (node as Record<string, unknown>)[token];
    }
  }
}

function check(validate: validators.Validator<unknown>, value: unknown): void {
  const result = validate(value); // must not throw
  if (!result.ok) expectLinesNameFields(value, result.errors);
  else expect(result.value).toBe(value);
}

// Values chosen to upset validators: huge and odd numbers, odd strings, keys from Object.prototype.
const oddScalar = fc.constantFrom<unknown>(
  1e308,
  -1e308,
  5e-324,
  -0,
  2 ** 53 + 1,
  0.5,
  "",
  "\u0000",
  "\ud800",
  "\r\n",
  "../..",
  "__proto__",
  true,
  null,
);
const oddKey = fc.constantFrom("__proto__", "constructor", "toString", "hasOwnProperty", "", "0", "a.b", '"');
const json = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    fc.jsonValue({ maxDepth: 2 }),
    oddScalar,
    fc.array(tie("value"), { maxLength: 4 }),
    fc.dictionary(fc.oneof(oddKey, fc.string({ maxLength: 6 })), tie("value"), { maxKeys: 4 }),
  ),
})).value;

/** JSON as the wire gives it: own `__proto__` members stay members, as JSON.parse makes them. */
const wire = (value: unknown) => JSON.parse(JSON.stringify(value) ?? "null") as unknown;

/** A path into a document, and the document with the value there replaced (or deleted). */
function mutate(doc: unknown, pick: number, replacement: unknown, remove: boolean): unknown {
  const paths: (string | number)[][] = [];
  const walk = (node: unknown, path: (string | number)[]) => {
    paths.push(path);
    if (Array.isArray(node)) {
      for (const [i, child] of node.entries()) walk(child, [...path, i]);
    } else if (node !== null && typeof node === "object")
      for (const [key, child] of Object.entries(node)) walk(child, [...path, key]);
  };
  walk(doc, []);
  const path = paths[pick % paths.length]!;
  if (path.length === 0) return replacement;
  const copy = structuredClone(doc) as Record<string | number, unknown>;
  let parent = copy;
  for (const token of path.slice(0, -1)) parent = parent[token] as Record<string | number, unknown>;
  const last = path[path.length - 1]!;
  if (remove && !Array.isArray(parent)) delete parent[last];
  else parent[last] = replacement;
  return copy;
}

describe("any input", () => {
  it.each(kinds)("%s: random JSON is valid or refused with lines naming fields, never a throw", (kind) => {
    fc.assert(
      fc.property(json, (value) => check(every[kind]!, wire(value))),
      { numRuns: 150 },
    );
  });

  it("an example with one part replaced or removed is valid or refused field by field", () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...examples),
        fc.nat(),
        json,
        fc.boolean(),
        ({ kind, value }, pick, replacement, remove) =>
          check(every[kind]!, mutate(value, pick, wire(replacement), remove)),
      ),
      { numRuns: 400 },
    );
  });

  it("deep nesting and very long strings are answered, not thrown on", () => {
    const deep = JSON.parse(`${"[".repeat(50_000)}${"]".repeat(50_000)}`);
    for (const validate of Object.values(every)) {
      check(validate, deep);
      check(validate, { action: "rewrite", body: deep, name: deep, hooks: deep });
      check(validate, { message: "x".repeat(1_000_000) });
    }
    expect(validators.validatePreHookReply({ action: "rewrite", body: deep }).ok).toBe(true);
  });
});

// The grammar, as arbitraries: each builds messages the schemas must accept.
const headerValue = fc.string({
  unit: fc
    .oneof(fc.constant("\t"), fc.integer({ min: 0x20, max: 0x7e }), fc.integer({ min: 0x80, max: 0xff }))
    .map((c) => (typeof c === "string" ? c : String.fromCharCode(c))),
  maxLength: 20,
});
const token = fc.stringMatching(/^[a-z0-9!#$%&'*+.^_`|~-]{1,12}$/);
const requestHeaderName = fc.oneof(
  fc.constantFrom(...EDITABLE_REQUEST_HEADERS.names, ...CREDENTIAL_HEADERS),
  fc.tuple(fc.constantFrom(...EDITABLE_REQUEST_HEADERS.prefixes), token).map(([p, t]) => `${p}${t}`),
);
const responseHeaderName = token.filter((name) => !PROXY_MANAGED_HEADERS.includes(name));
const headerEdits = (name: fc.Arbitrary<string>) =>
  fc
    .record(
      { set: fc.dictionary(name, headerValue, { maxKeys: 3 }), remove: fc.array(name, { maxLength: 3 }) },
      { requiredKeys: [] },
    )
    .filter((edits) => Object.keys(edits).length > 0);
const segment = fc
  .stringMatching(/^(?:[A-Za-z0-9._~!$&'()*+,;=:@-]|%[0-9A-Fa-f]{2}){1,8}$/)
  .filter((s) => !/^(?:\.|%2[eE]){1,2}$/.test(s));
const rewritePath = fc
  .tuple(fc.array(segment, { minLength: 0, maxLength: 5 }), fc.boolean())
  .map(([segments, slash]) => `/${segments.join("/")}${slash && segments.length > 0 ? "/" : ""}`)
  .filter((path) => !/^\/v[0-9]+(?:\.[0-9]+)*(?:\/|$)/.test(path));
const pointer = fc
  .array(fc.string({ maxLength: 5 }), { maxLength: 3 })
  .map((tokens) => tokens.map((t) => `/${t.replaceAll("~", "~0").replaceAll("/", "~1")}`).join(""));
const operation = fc.oneof(
  fc.record({
    op: fc.constantFrom("add", "replace", "test"),
    path: pointer,
    value: fc.jsonValue({ maxDepth: 2 }),
  }),
  fc.record({ op: fc.constant("remove"), path: pointer }),
  fc.record({ op: fc.constantFrom("move", "copy"), from: pointer, path: pointer }),
);
const warnings = fc.array(fc.string({ minLength: 1, maxLength: 10 }), { maxLength: 3 });
const query = fc
  .record(
    {
      set: fc.dictionary(
        fc.string({ maxLength: 6 }),
        fc.oneof(fc.string(), fc.array(fc.string(), { minLength: 1, maxLength: 3 })),
        { maxKeys: 3 },
      ),
      remove: fc.array(fc.string({ maxLength: 6 }), { maxLength: 3 }),
    },
    { requiredKeys: [] },
  )
  .filter((edits) => Object.keys(edits).length > 0);
const preHookReply = fc.oneof(
  fc.record({ action: fc.constant("allow"), warnings }, { requiredKeys: ["action"] }),
  fc.record(
    {
      action: fc.constant("deny"),
      status: fc.integer({ min: 400, max: 599 }),
      message: fc.string({ minLength: 1 }),
      warnings,
    },
    { requiredKeys: ["action", "status", "message"] },
  ),
  fc
    .record(
      {
        action: fc.constant("rewrite"),
        body: fc.jsonValue({ maxDepth: 3 }),
        patch: fc.array(operation, { maxLength: 3 }),
        query,
        headers: headerEdits(requestHeaderName),
        path: rewritePath,
        warnings,
      },
      { requiredKeys: ["action"] },
    )
    .filter(
      (r) => !("body" in r && "patch" in r) && Object.keys(r).some((k) => k !== "action" && k !== "warnings"),
    ),
);
const postHookReply = fc.oneof(
  fc.record({ action: fc.constant("pass"), warnings }, { requiredKeys: ["action"] }),
  fc
    .record(
      {
        action: fc.constant("rewrite"),
        status: fc.integer({ min: 100, max: 599 }),
        headers: headerEdits(responseHeaderName),
        body: fc.jsonValue({ maxDepth: 3 }),
        patch: fc.array(operation, { maxLength: 3 }),
        warnings,
      },
      { requiredKeys: ["action"] },
    )
    .filter(
      (r) => !("body" in r && "patch" in r) && Object.keys(r).some((k) => k !== "action" && k !== "warnings"),
    ),
);
const hookPathSegment = fc.oneof(
  fc.stringMatching(/^[a-z0-9_~:@-][a-z0-9._~:@-]{0,7}$/).filter((s) => !/^v[0-9]+(?:\.[0-9]+)*$/.test(s)),
  fc.constant("*"),
);
const handshakeReply = fc
  .record(
    {
      version: fc.constant("2"),
      name: fc.stringMatching(/^[a-z0-9][a-z0-9_.-]{0,20}$/),
      adapterVersion: fc.string({ minLength: 1, maxLength: 10 }),
      priority: fc.integer({ min: 0, max: 10_000 }),
      failurePolicy: fc.constantFrom("fail", "ignore"),
      timeoutMs: fc.integer({ min: 1, max: 60_000 }),
      credentials: fc.boolean(),
      hooks: fc.uniqueArray(
        fc.record(
          {
            method: fc.constantFrom("GET", "POST", "DELETE", "*"),
            path: fc
              .tuple(fc.array(hookPathSegment, { minLength: 1, maxLength: 4 }), fc.boolean())
              .map(([segments, param]) => `/${segments.join("/")}${param ? "/{id}" : ""}`),
            stage: fc.constantFrom("pre", "post"),
            needsBody: fc.boolean(),
          },
          { requiredKeys: ["method", "path", "stage"] },
        ),
        { selector: (h) => `${h.stage} ${h.method} ${h.path}`, maxLength: 4 },
      ),
    },
    { requiredKeys: ["version", "name", "hooks"] },
  )
  .map(wire);

describe("messages built by the grammar", () => {
  it.each([
    ["a pre-hook reply", preHookReply, validators.validatePreHookReply],
    ["a post-hook reply", postHookReply, validators.validatePostHookReply],
    ["a handshake reply", handshakeReply, validators.validateHandshakeReply],
    ["a JSON Patch", fc.array(operation, { maxLength: 5 }), validators.validateJsonPatch],
  ] as const)("%s validates", (_what, arbitrary, validate) => {
    fc.assert(
      fc.property(arbitrary as fc.Arbitrary<unknown>, (message) => {
        const result = (validate as validators.Validator<unknown>)(message);
        expect(result.ok ? [] : result.errors).toEqual([]);
      }),
      { numRuns: 300 },
    );
  });
});
