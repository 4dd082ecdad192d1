import fc from "fast-check";
import { createPatch } from "rfc6902";
import { describe, expect, it } from "vitest";
import { readExample } from "../scripts/embed-examples.js";
import { ProtocolErrorCode } from "./errors.js";
import type { JsonPatch } from "./generated/types.js";
import { applyJsonPatch } from "./json-patch.js";

describe("applyJsonPatch", () => {
  const body = { Image: "nginx:alpine", Labels: { team: "web" } };

  it("applies every operation of the README example", () => {
    const patch = JSON.parse(readExample("v2/json-patch/every-operation.json")) as JsonPatch;
    expect(applyJsonPatch(body, patch)).toEqual({
      Image: "registry.local/nginx:alpine",
      Labels: { owner: "web", group: "web" },
    });
  });

  it("never changes the document passed in", () => {
    const before = structuredClone(body);
    applyJsonPatch(body, [{ op: "add", path: "/Labels/seen", value: "yes" }]);
    expect(body).toEqual(before);
  });

  it("replaces and tests the whole document", () => {
    expect(applyJsonPatch(body, [{ op: "replace", path: "", value: [1] }])).toEqual([1]);
    expect(applyJsonPatch(5, [{ op: "test", path: "", value: 5 }])).toBe(5);
  });

  it("appends to arrays with -", () => {
    expect(applyJsonPatch({ Warnings: [] }, [{ op: "add", path: "/Warnings/-", value: "w" }])).toEqual({
      Warnings: ["w"],
    });
  });

  it.each([
    [
      "a missing target",
      [{ op: "remove", path: "/Nope" }],
      'JSON Patch operation 0 (remove /Nope) failed: nothing at "/Nope"',
    ],
    [
      "a missing parent",
      [{ op: "add", path: "/a/b/c", value: 1 }],
      "JSON Patch operation 0 (add /a/b/c) failed: nothing at",
    ],
    [
      "a failing test",
      [{ op: "test", path: "/Image", value: "redis" }],
      "JSON Patch operation 0 (test /Image) failed: the value differs",
    ],
    [
      "a missing from",
      [{ op: "copy", from: "/x", path: "/y" }],
      'JSON Patch operation 0 (copy /x → /y) failed: nothing at "/x"',
    ],
    [
      "an index out of range",
      [
        { op: "add", path: "/Labels/0", value: 1 },
        { op: "add", path: "/Arr/5", value: 1 },
      ],
      "operation 1",
    ],
    ["removing everything", [{ op: "remove", path: "" }], "removes the whole document"],
    ["a malformed patch", [{ op: "bogus", path: "/a" }], 'invalid JSON Patch: [0].op: must be one of "add"'],
  ])("throws PATCH_FAILED for %s", (_what, patch, message) => {
    const attempt = () => applyJsonPatch({ ...body, Arr: [] }, patch as JsonPatch);
    expect(attempt).toThrow(message);
    expect(attempt).toThrow(expect.objectContaining({ code: ProtocolErrorCode.PatchFailed }));
  });

  it("is all or nothing: a later failure leaves the input as it was", () => {
    const input = { a: 1 };
    expect(() =>
      applyJsonPatch(input, [
        { op: "replace", path: "/a", value: 2 },
        { op: "remove", path: "/missing" },
      ]),
    ).toThrow("operation 1");
    expect(input).toEqual({ a: 1 });
  });
});

describe("properties", () => {
  const json = fc.jsonValue({ maxDepth: 3 }).map((value) => JSON.parse(JSON.stringify(value)) as unknown);

  it("the patch between two documents turns the first into the second, leaving the first alone", () => {
    fc.assert(
      fc.property(json, json, (from, to) => {
        const before = structuredClone(from);
        const patch = createPatch(from, to) as JsonPatch;
        expect(applyJsonPatch(from, patch)).toEqual(to);
        expect(from).toEqual(before);
      }),
    );
  });

  it("add then test of the same value always passes; remove then test of it always fails", () => {
    const key = fc.string({ maxLength: 6 });
    fc.assert(
      fc.property(fc.dictionary(key, json), key, json, (doc, k, value) => {
        const path = `/${k.replaceAll("~", "~0").replaceAll("/", "~1")}`;
        const added = applyJsonPatch(doc, [
          { op: "add", path, value },
          { op: "test", path, value },
        ]);
        expect((added as Record<string, unknown>)[k]).toEqual(value);
        expect(() =>
          applyJsonPatch(added, [
            { op: "remove", path },
            { op: "test", path, value: 0 },
          ]),
        ).toThrow(expect.objectContaining({ code: ProtocolErrorCode.PatchFailed }));
      }),
    );
  });

  it("a patch that fails anywhere throws PATCH_FAILED and never changes its input", () => {
    fc.assert(
      fc.property(json, json, fc.string(), (doc, value, missing) => {
        const before = structuredClone(doc);
        const patch: JsonPatch = [
          { op: "replace", path: "", value },
          { op: "remove", path: `/no-such-key-${missing.replaceAll("~", "~0").replaceAll("/", "~1")}/x` },
        ];
        expect(() => applyJsonPatch(doc, patch)).toThrow(
          expect.objectContaining({ code: ProtocolErrorCode.PatchFailed }),
        );
        expect(doc).toEqual(before);
      }),
    );
  });
});
