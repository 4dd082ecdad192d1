import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ProtocolError, ProtocolErrorCode } from "./errors.js";
import {
  matchHookPath,
  parseHookPath,
  parseHookPattern,
  routedPath,
  splitRequestTarget,
} from "./hook-pattern.js";

// Property tests of the route matcher beyond hook-pattern.test.ts: arbitrary input never throws
// (but a bad pattern's typed error), literal patterns match exactly their own path.

const literal = fc
  .stringMatching(/^[A-Za-z0-9._~:@!$&'()+,;=-]{1,8}$/)
  .filter((s) => s !== "." && s !== "..");
const literals = fc
  .array(literal, { minLength: 1, maxLength: 5 })
  .filter((list) => !/^v[0-9]+(?:\.[0-9]+)*$/.test(list[0]!));
const version = fc.array(fc.nat({ max: 99 }), { minLength: 1, maxLength: 3 }).map((parts) => parts.join("."));
// Anything a client could put in a request target, including broken escapes and unicode.
const anyTarget = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.string({ unit: "binary", maxLength: 20 }),
  fc
    .array(
      fc.constantFrom("/", "v1.41", "%", "%2", "%zz", "%E0%A4%A", "?", "#", "..", ".", "{id}", "é", " "),
      {
        maxLength: 8,
      },
    )
    .map((parts) => parts.join("")),
);

describe("the route matcher", () => {
  it("a literal pattern matches exactly its own path, with and without a /vX.Y prefix and a query", () => {
    fc.assert(
      fc.property(literals, literals, version, fc.boolean(), (mine, other, v, trailing) => {
        const path = `/${mine.join("/")}`;
        const pattern = { segments: parseHookPath(path) };
        for (const target of [
          path,
          `/v${v}${path}`,
          `${path}?all=1`,
          `/v${v}${path}${trailing ? "/" : ""}?x=/y`,
        ]) {
          expect(matchHookPath(pattern, splitRequestTarget(target).path)).toEqual({});
        }
        const otherPath = `/${other.join("/")}`;
        if (otherPath !== path) {
          expect(matchHookPath(pattern, otherPath)).toBeNull();
          expect(matchHookPath(pattern, splitRequestTarget(`/v${v}${otherPath}`).path)).toBeNull();
        }
      }),
      { numRuns: 300 },
    );
  });

  it("matching and splitting never throw, whatever the target", () => {
    const patterns = ["/containers/{id}/start", "/*", "/images/{name}/json", "/_ping"].map((p) => ({
      segments: parseHookPath(p),
    }));
    fc.assert(
      fc.property(anyTarget, (target) => {
        const split = splitRequestTarget(target);
        for (const pattern of patterns) {
          const params = matchHookPath(pattern, split.path);
          if (params !== null) for (const value of Object.values(params)) expect(typeof value).toBe("string");
        }
      }),
      { numRuns: 500 },
    );
  });

  it("splitting a target loses nothing: prefix, path and query put back give the target", () => {
    fc.assert(
      fc.property(anyTarget, (target) => {
        const { path, apiVersion, query } = splitRequestTarget(target);
        const rebuilt = `${apiVersion === null ? "" : `/v${apiVersion}`}${path}`;
        expect(target.includes("?") ? `${rebuilt}?${query}` : rebuilt).toBe(target);
      }),
      { numRuns: 500 },
    );
  });

  it("a {param} gives back any value, percent-encoded by the client and decoded for the hook", () => {
    const value = fc.string({ unit: "grapheme", minLength: 1, maxLength: 12 });
    fc.assert(
      fc.property(value, value, (id, name) => {
        const pattern = { segments: parseHookPath("/containers/{id}/rename/{name}") };
        const path = `/containers/${encodeURIComponent(id)}/rename/${encodeURIComponent(name)}`;
        expect(matchHookPath(pattern, splitRequestTarget(`/v1.41${path}?x=1`).path)).toEqual({ id, name });
      }),
      { numRuns: 300 },
    );
  });

  it("a malformed escape in a param is handed over as sent", () => {
    const pattern = { segments: parseHookPath("/containers/{id}/start") };
    expect(matchHookPath(pattern, "/containers/%E0%A4%A/start")).toEqual({ id: "%E0%A4%A" });
  });

  it("parsing any string gives a pattern or INVALID_PATTERN, nothing else", () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string({ maxLength: 30 }),
          anyTarget.map((t) => `GET ${t}`),
        ),
        (text) => {
          try {
            const parsed = parseHookPattern(text);
            // A pattern that parses matches the path written from it.
            const concrete = parsed.path.replaceAll(/\{[^}]+\}|\*/g, "x");
            expect(matchHookPath(parsed, concrete)).not.toBeNull();
          } catch (error) {
            expect(error).toBeInstanceOf(ProtocolError);
            expect((error as ProtocolError).code).toBe(ProtocolErrorCode.InvalidPattern);
          }
        },
      ),
      { numRuns: 500 },
    );
  });

  it("escapes do not change the routed path: any character written as %XX routes the same", () => {
    // Pick, per character, whether the client escapes it (as `curl --path-as-is` lets one do).
    const escaped = (text: string, picks: boolean[]) =>
      [...text]
        .map((c, i) =>
          picks[i % picks.length] && c.charCodeAt(0) < 0x80
            ? `%${c.charCodeAt(0).toString(16).padStart(2, "0")}`
            : c,
        )
        .join("");
    fc.assert(
      fc.property(
        literals,
        version,
        fc.array(fc.boolean(), { minLength: 1, maxLength: 8 }),
        (list, v, picks) => {
          for (const raw of [`/${list.join("/")}`, `/v${v}/${list.join("/")}`]) {
            const plain = routedPath(raw)!;
            expect(routedPath(escaped(raw, picks))).toEqual(plain);
            const pattern = { segments: parseHookPath(plain.path) };
            expect(matchHookPath(pattern, routedPath(escaped(raw, picks))!.path, { decoded: true })).toEqual(
              {},
            );
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it("routes what Docker routes", () => {
    expect(routedPath("/containers/%63reate")).toEqual({ path: "/containers/create", apiVersion: null });
    expect(routedPath("/%76%31.41/containers%2Fcreate")).toEqual({
      path: "/containers/create",
      apiVersion: "1.41",
    });
    expect(routedPath("/containers/%E2%82%AC/json")).toEqual({
      path: "/containers/€/json",
      apiVersion: null,
    });
    expect(routedPath("/containers/%zz/json")).toBeNull();
    expect(routedPath("/containers/%4")).toBeNull();
  });

  it("routedPath never throws", () => {
    fc.assert(
      fc.property(anyTarget, (target) => {
        const routed = routedPath(target.split("?", 1)[0]!);
        if (routed !== null) expect(typeof routed.path).toBe("string");
      }),
      { numRuns: 500 },
    );
  });
});
