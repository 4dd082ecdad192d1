import fc from "fast-check";
import { applyPatch, type Operation } from "rfc6902";
import { describe, expect, it } from "vitest";
import { ProtocolError, ProtocolErrorCode } from "./errors.js";
import type { JsonPatch } from "./generated/types.js";
import { MAX_JSON_DEPTH } from "./json-depth.js";
import { applyJsonPatch } from "./json-patch.js";

// Property tests of applyJsonPatch against hostile patches: keys JavaScript objects inherit,
// pointers that go nowhere, patches that are not patches. json-patch.test.ts has the RFC's cases.

// Keys a JSON document may have that plain JavaScript objects also inherit or treat specially.
const trickyKey = fc.constantFrom(
  "__proto__",
  "constructor",
  "prototype",
  "toString",
  "hasOwnProperty",
  "-",
  "0",
  "01",
  "",
  "~",
  "/",
);
const key = fc.oneof(trickyKey, fc.string({ maxLength: 4 }));
/** JSON as it comes off the wire: JSON.parse makes "__proto__" an own member. */
const wire = (value: unknown) => JSON.parse(JSON.stringify(value)) as unknown;
const doc = fc
  .letrec((tie) => ({
    value: fc.oneof(
      { depthSize: "small" },
      fc.oneof(fc.string({ maxLength: 4 }), fc.integer(), fc.boolean(), fc.constant(null)),
      fc.array(tie("value"), { maxLength: 4 }),
      fc.dictionary(key, tie("value"), { maxKeys: 4 }),
    ),
  }))
  .value.map(wire);
const escapeToken = (token: string) => token.replaceAll("~", "~0").replaceAll("/", "~1");
const pointer = fc
  .array(key, { maxLength: 4 })
  .map((tokens) => tokens.map((t) => `/${escapeToken(t)}`).join(""));
const operation = fc.oneof(
  fc.record({ op: fc.constantFrom("add", "replace", "test"), path: pointer, value: doc }),
  fc.record({ op: fc.constant("remove"), path: pointer }),
  fc.record({ op: fc.constantFrom("move", "copy"), from: pointer, path: pointer }),
);
const patch = fc.array(operation, { maxLength: 5 }) as fc.Arbitrary<JsonPatch>;
// Whatever an adapter might send where a patch belongs.
const notAPatch = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }),
  fc.array(fc.dictionary(fc.string({ maxLength: 5 }), fc.jsonValue({ maxDepth: 1 }))),
);

/** Only plain JSON: arrays, objects whose prototype is Object.prototype, and scalars. */
function expectPlainJson(value: unknown): void {
  const pending = [value];
  for (let next = pending.pop(); next !== undefined; next = pending.pop()) {
    if (typeof next === "function" || typeof next === "symbol" || typeof next === "bigint") {
      throw new Error(`not JSON: ${typeof next}`);
    }
    if (typeof next !== "object" || next === null) continue;
    const proto = Object.getPrototypeOf(next);
    expect(proto === Object.prototype || proto === Array.prototype).toBe(true);
    pending.push(...Object.values(next));
  }
  expect(wire(value)).toEqual(value);
}

function attempt(
  document: unknown,
  p: unknown,
): { ok: true; value: unknown } | { ok: false; error: unknown } {
  try {
    return { ok: true, value: applyJsonPatch(document, p as JsonPatch) };
  } catch (error) {
    return { ok: false, error };
  }
}

describe("applyJsonPatch under fuzzing", () => {
  it("gives plain JSON or throws PATCH_FAILED, never changes its input, never touches a prototype", () => {
    fc.assert(
      fc.property(doc, fc.oneof(patch, notAPatch), (document, p) => {
        const before = structuredClone(document);
        const outcome = attempt(document, p);
        if (outcome.ok) expectPlainJson(outcome.value);
        else {
          expect(outcome.error).toBeInstanceOf(ProtocolError);
          expect((outcome.error as ProtocolError).code).toBe(ProtocolErrorCode.PatchFailed);
        }
        expect(document).toEqual(before);
        expect(Object.getOwnPropertyNames(Object.prototype)).not.toContain("polluted");
      }),
      { numRuns: 1000 },
    );
  });

  it("agrees with the rfc6902 package on documents of plain members", () => {
    // Objects with plain keys only: where the two differ by design (rfc6902 skips __proto__-like
    // tokens, lets a non-index token address an array) is tested above and below.
    // Not the name of an inherited member of a scalar (`"s".at`): rfc6902 treats those as present.
    const inherited = [String.prototype, Number.prototype, Boolean.prototype, Object.prototype];
    const plainKey = fc.stringMatching(/^[a-z]{1,2}$/).filter((k) => !inherited.some((p) => k in p));
    const plainPointer = fc.array(plainKey, { maxLength: 3 }).map((ts) => ts.map((t) => `/${t}`).join(""));
    const plainDoc = fc.letrec((tie) => ({
      value: fc.oneof(
        { depthSize: "small" },
        fc.oneof(fc.string({ maxLength: 3 }), fc.integer(), fc.boolean(), fc.constant(null)),
        fc.dictionary(plainKey, tie("value"), { maxKeys: 4 }),
      ),
    })).value;
    const plainOp = fc.oneof(
      fc.record({ op: fc.constantFrom("add", "replace", "test"), path: plainPointer, value: plainDoc }),
      fc.record({ op: fc.constant("remove"), path: plainPointer.filter((p) => p !== "") }),
      fc.record({ op: fc.constantFrom("copy", "move"), from: plainPointer, path: plainPointer }),
    );
    fc.assert(
      fc.property(plainDoc, plainOp, (document, op) => {
        // rfc6902 patches in place; give it a box so "" can be replaced.
        const box = { doc: structuredClone(document) };
        const boxed = { ...op, path: `/doc${op.path}` } as Operation;
        if ("from" in op) (boxed as { from: string }).from = `/doc${op.from}`;
        let theirs: unknown;
        try {
          [theirs] = applyPatch(box, [boxed]);
        } catch (error) {
          theirs = error; // it throws where a patch of a scalar goes astray
        }
        const ours = attempt(document, [op]);
        if (theirs === null) expect(ours).toEqual({ ok: true, value: box.doc });
        else expect(ours.ok).toBe(false);
      }),
      { numRuns: 500 },
    );
  });

  it("add then remove of a new member gives the document back", () => {
    fc.assert(
      fc.property(fc.dictionary(key, doc, { maxKeys: 4 }).map(wire), key, doc, (document, k, value) => {
        fc.pre(!Object.hasOwn(document as object, k));
        const path = `/${escapeToken(k)}`;
        const added = applyJsonPatch(document, [{ op: "add", path, value }]) as Record<string, unknown>;
        expect(Object.hasOwn(added, k)).toBe(true);
        expect(added[k]).toEqual(value);
        expect(applyJsonPatch(added, [{ op: "remove", path }])).toEqual(document);
      }),
      { numRuns: 300 },
    );
  });

  it("insert then remove at an array index gives the array back", () => {
    fc.assert(
      fc.property(fc.array(doc, { maxLength: 5 }), fc.nat(), doc, (list, at, value) => {
        const path = `/${at % (list.length + 1)}`;
        const added = applyJsonPatch(list, [{ op: "add", path, value }]);
        expect(added).toHaveLength(list.length + 1);
        expect(applyJsonPatch(added, [{ op: "remove", path }])).toEqual(list);
      }),
      { numRuns: 300 },
    );
  });

  it("a move there and back is no change", () => {
    fc.assert(
      fc.property(fc.dictionary(key, doc, { minKeys: 1, maxKeys: 4 }).map(wire), key, (document, to) => {
        const from = Object.keys(document as object)[0]!;
        fc.pre(to !== from && !Object.hasOwn(document as object, to));
        const there = applyJsonPatch(document, [
          { op: "move", from: `/${escapeToken(from)}`, path: `/${escapeToken(to)}` },
        ]);
        expect(
          applyJsonPatch(there, [{ op: "move", from: `/${escapeToken(to)}`, path: `/${escapeToken(from)}` }]),
        ).toEqual(document);
      }),
      { numRuns: 300 },
    );
  });

  it("members named like inherited properties are plain members", () => {
    const document = wire({ Labels: {} }) as Record<string, unknown>;
    const patched = applyJsonPatch(document, [
      { op: "add", path: "/Labels/__proto__", value: { polluted: true } },
      { op: "add", path: "/Labels/constructor", value: "c" },
      { op: "test", path: "/Labels/__proto__/polluted", value: true },
    ]) as { Labels: Record<string, unknown> };
    expect(Object.getPrototypeOf(patched.Labels)).toBe(Object.prototype);
    expect(Object.keys(patched.Labels)).toEqual(["__proto__", "constructor"]);
    expect(JSON.stringify(patched)).toBe('{"Labels":{"__proto__":{"polluted":true},"constructor":"c"}}');
    for (const path of ["/toString", "/Labels/hasOwnProperty", "/__proto__", "/constructor/prototype"]) {
      expect(() => applyJsonPatch(document, [{ op: "remove", path }])).toThrow(
        `nothing at ${JSON.stringify(path)}`,
      );
      expect(() => applyJsonPatch(document, [{ op: "replace", path, value: 1 }])).toThrow("nothing at");
      expect(() => applyJsonPatch(document, [{ op: "copy", from: path, path: "/x" }])).toThrow("nothing at");
    }
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it("a document nested past the limit fails as PATCH_FAILED, not with a stack overflow", () => {
    const deep = JSON.parse(`${"[".repeat(100_000)}${"]".repeat(100_000)}`);
    const shallowEnough = JSON.parse(`${"[".repeat(MAX_JSON_DEPTH)}${"]".repeat(MAX_JSON_DEPTH)}`);
    expect(() => applyJsonPatch(deep, [])).toThrow(
      expect.objectContaining({ code: ProtocolErrorCode.PatchFailed }),
    );
    expect(() => applyJsonPatch({}, [{ op: "add", path: "/x", value: deep }])).toThrow(
      `nested deeper than ${MAX_JSON_DEPTH} levels`,
    );
    expect(applyJsonPatch(shallowEnough, [])).toEqual(shallowEnough);
    // Copies of a copy nest one level more each time: the result is checked too.
    const growing = Array.from({ length: 12 }, () => ({ op: "copy", from: "", path: "/a" }) as const);
    const nearLimit = JSON.parse(`${"[".repeat(MAX_JSON_DEPTH - 5)}${"]".repeat(MAX_JSON_DEPTH - 5)}`);
    expect(applyJsonPatch({ a: nearLimit }, growing.slice(0, 4))).toBeDefined();
    expect(() => applyJsonPatch({ a: nearLimit }, growing)).toThrow(
      expect.objectContaining({ code: ProtocolErrorCode.PatchFailed }),
    );
  });
});
