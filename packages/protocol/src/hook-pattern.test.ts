import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ProtocolErrorCode } from "./errors.js";
import { matchHookMethod, matchHookPath, parseHookPattern, splitRequestTarget } from "./hook-pattern.js";
import { schemas } from "./schemas.js";

describe("parseHookPattern", () => {
  it("splits method and path into segments", () => {
    expect(parseHookPattern("POST /containers/{id}/start")).toEqual({
      method: "POST",
      path: "/containers/{id}/start",
      segments: [
        { kind: "literal", value: "containers" },
        { kind: "param", name: "id" },
        { kind: "literal", value: "start" },
      ],
    });
    expect(parseHookPattern("* /*/json").segments).toEqual([
      { kind: "wildcard" },
      { kind: "literal", value: "json" },
    ]);
  });

  it.each([
    ["/containers/create", "must be a method, one space and a path"],
    ["post /containers/create", 'method "post" must be upper-case'],
    ["POST containers/create", 'path "containers/create" must start with /'],
    ["POST /v1.41/containers/create", "must be written without the /vX.Y prefix"],
    ["POST /containers//create", "has an empty segment"],
    ["POST /containers/", "has an empty segment"],
    ["POST /containers/{id", 'segment "{id" must be a literal, a {param} or *'],
    ["POST /containers/{1d}", 'segment "{1d}" must be a literal, a {param} or *'],
    ["POST /containers/x*", 'segment "x*" must be a literal, a {param} or *'],
    ["POST /containers/../x", 'segment ".." must be a literal, a {param} or *'],
    ["POST /a/{id}/{id}", "{id} appears twice"],
    ["POST  /a", 'path " /a" must start with /'],
  ])("refuses %j: %s", (pattern, reason) => {
    expect(() => parseHookPattern(pattern)).toThrow(reason);
    expect(() => parseHookPattern(pattern)).toThrow(
      expect.objectContaining({ code: ProtocolErrorCode.InvalidPattern }),
    );
  });
});

describe("splitRequestTarget", () => {
  it.each([
    ["/v1.41/containers/json?all=1", { path: "/containers/json", apiVersion: "1.41", query: "all=1" }],
    ["/containers/json", { path: "/containers/json", apiVersion: null, query: "" }],
    [
      "/v4.0.0/libpod/containers/create",
      { path: "/libpod/containers/create", apiVersion: "4.0.0", query: "" },
    ],
    ["/v1.41", { path: "/v1.41", apiVersion: null, query: "" }],
    ["/version", { path: "/version", apiVersion: null, query: "" }],
  ])("%s", (target, expected) => {
    expect(splitRequestTarget(target)).toEqual(expected);
  });
});

describe("matchHookPath", () => {
  const start = parseHookPattern("POST /containers/{id}/start");

  it("extracts percent-decoded params", () => {
    expect(matchHookPath(start, "/containers/abc/start")).toEqual({ id: "abc" });
    expect(matchHookPath(start, "/containers/my%20app/start")).toEqual({ id: "my app" });
    expect(matchHookPath(start, "/containers/bad%zz/start")).toEqual({ id: "bad%zz" });
  });

  it("ignores a trailing slash, never matches empty segments", () => {
    expect(matchHookPath(start, "/containers/abc/start/")).toEqual({ id: "abc" });
    expect(matchHookPath(start, "/containers//start")).toBeNull();
    expect(matchHookPath(start, "/containers/abc/stop")).toBeNull();
    expect(matchHookPath(start, "/containers/abc/start/x")).toBeNull();
  });

  it("keeps a {__proto__} parameter as plain data", () => {
    const params = matchHookPath(parseHookPattern("GET /x/{__proto__}"), "/x/evil");
    expect(Object.getPrototypeOf(params)).toBe(Object.prototype);
    expect(Object.hasOwn(params!, "__proto__")).toBe(true);
  });

  it("matches methods exactly or by *", () => {
    expect(matchHookMethod(start, "POST")).toBe(true);
    expect(matchHookMethod(start, "GET")).toBe(false);
    expect(matchHookMethod(parseHookPattern("* /x"), "DELETE")).toBe(true);
  });
});

// Arbitraries for the grammar: a literal segment, a parameter name, a segment of any kind.
const literal = fc
  .stringMatching(/^[a-z0-9_~:@-][a-z0-9._~:@-]{0,11}$/)
  .filter((s) => s !== "." && s !== "..");
const paramName = fc.stringMatching(/^[A-Za-z_][A-Za-z0-9_]{0,7}$/);
const method = fc.constantFrom("GET", "POST", "PUT", "DELETE", "HEAD", "*");
const segment = fc.oneof(
  literal.map((value) => ({ kind: "literal" as const, value })),
  paramName.map((name) => ({ kind: "param" as const, name })),
  fc.constant({ kind: "wildcard" as const }),
);
const segments = fc.array(segment, { minLength: 1, maxLength: 6 }).filter((list) => {
  const names = list.flatMap((s) => (s.kind === "param" ? [s.name] : []));
  const first = list[0]!;
  return (
    new Set(names).size === names.length &&
    !(first.kind === "literal" && /^v[0-9]+(\.[0-9]+)*$/.test(first.value))
  );
});
const render = (list: ReadonlyArray<{ kind: string; value?: string; name?: string }>) =>
  list
    .map((s) => (s.kind === "literal" ? `/${s.value}` : s.kind === "param" ? `/{${s.name}}` : "/*"))
    .join("");

const hookPatternRegex = new RegExp(
  ((schemas.Definitions.$defs as Record<string, { pattern: string }>).hookPattern as { pattern: string })
    .pattern,
  "u",
);

describe("properties", () => {
  it("parse(render(segments)) gives the segments back", () => {
    fc.assert(
      fc.property(method, segments, (m, list) => {
        const parsed = parseHookPattern(`${m} ${render(list)}`);
        expect(parsed).toEqual({ method: m, path: render(list), segments: list });
      }),
    );
  });

  it("the parser and the schema's hookPattern regex accept the same strings", () => {
    const pieces = fc.constantFrom(
      "/",
      "a",
      "{id}",
      "{x}",
      "*",
      ".",
      "..",
      "v1",
      ".41",
      "?",
      " ",
      "{",
      "}",
      "%",
      "POST",
      "post ",
    );
    const candidate = fc.oneof(
      fc.tuple(method, segments).map(([m, list]) => `${m} ${render(list)}`),
      fc.array(pieces, { maxLength: 10 }).map((parts) => `POST ${parts.join("")}`),
      fc.string(),
    );
    fc.assert(
      fc.property(candidate, (pattern) => {
        let parsed = true;
        try {
          parseHookPattern(pattern);
        } catch {
          parsed = false;
        }
        // Repeated parameter names are the one rule only the parser states.
        const repeats = /\{([A-Za-z_][A-Za-z0-9_]*)\}.*\{\1\}/.test(pattern);
        expect(parsed).toBe(hookPatternRegex.test(pattern) && !repeats);
      }),
      { numRuns: 2000 },
    );
  });

  it("a path built from a pattern matches it, with and without a version prefix, giving back the params", () => {
    const value = fc.stringMatching(/^[A-Za-z0-9 %/?#._-]{1,12}$/);
    fc.assert(
      fc.property(
        segments,
        fc.array(value, { minLength: 6, maxLength: 6 }),
        fc.boolean(),
        (list, values, versioned) => {
          const expected: Record<string, string> = {};
          const path = list
            .map((s, i) => {
              if (s.kind === "literal") return `/${s.value}`;
              if (s.kind === "param") expected[s.name] = values[i]!;
              return `/${encodeURIComponent(values[i]!)}`;
            })
            .join("");
          const target = versioned ? `/v1.41${path}?all=1` : path;
          const split = splitRequestTarget(target);
          expect(split.apiVersion).toBe(versioned ? "1.41" : null);
          expect(matchHookPath({ segments: list }, split.path)).toEqual(expected);
        },
      ),
    );
  });
});
