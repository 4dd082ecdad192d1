import { describe, expectTypeOf, it } from "vitest";
import { defineAdapter } from "./define.js";
import type { HookKey, PathParams, PostHookContext, PreHookContext } from "./types.js";

// These tests are checked by the compiler (`tsc -p packages/adapter-sdk`); at run time they only
// define adapters. A `@ts-expect-error` that stops being an error fails the type check.
describe("typed hook keys", () => {
  it("turn {param} segments into typed ctx.params", () => {
    expectTypeOf<PathParams<"POST /containers/{id}/start">>().toEqualTypeOf<{ readonly id: string }>();
    expectTypeOf<PathParams<"GET /networks/{network}/containers/{id}">>().toEqualTypeOf<{
      readonly network: string;
      readonly id: string;
    }>();
    expectTypeOf<PathParams<"GET /containers/json">>().toEqualTypeOf<Record<never, never>>();

    defineAdapter({
      name: "typed",
      hooks: {
        "POST /containers/{id}/start": {
          pre(ctx) {
            expectTypeOf(ctx).toEqualTypeOf<PreHookContext<"POST /containers/{id}/start">>();
            expectTypeOf(ctx.params.id).toBeString();
            // @ts-expect-error: the key names no {name}
            ctx.params.name;
          },
          post(ctx) {
            expectTypeOf(ctx).toEqualTypeOf<PostHookContext<"POST /containers/{id}/start">>();
            expectTypeOf(ctx.request.params.id).toBeString();
          },
        },
        "GET /containers/json": {
          post(ctx) {
            // @ts-expect-error: no params at all
            ctx.params.id;
          },
        },
      },
    });
  });

  it("make a typo'd method a compile error", () => {
    expectTypeOf<"POST /containers/create">().toExtend<HookKey>();
    expectTypeOf<"PSOT /containers/create">().not.toExtend<HookKey>();
    expectTypeOf<"post /containers/create">().not.toExtend<HookKey>();
    expectTypeOf<"POST containers/create">().not.toExtend<HookKey>();
    try {
      defineAdapter({
        name: "typo",
        hooks: {
          // @ts-expect-error: PSOT is not a method
          "PSOT /containers/create": { pre() {} },
        },
      });
    } catch {
      // and it is refused at run time, for JavaScript authors
    }
  });

  it("type what hooks may return", () => {
    defineAdapter({
      name: "returns",
      hooks: {
        "POST /containers/create": {
          pre(ctx) {
            if (ctx.body.Image === "bad") return ctx.deny(403, "no");
            if (ctx.query.name === undefined)
              return { query: { set: { name: "x" } }, warnings: ["named it"] };
          },
          async post(ctx) {
            expectTypeOf(ctx.response.streamed).toBeBoolean();
            return { status: 201, body: ctx.response.body };
          },
        },
        "POST /containers/{id}/stop": {
          // @ts-expect-error: a misspelled field in the result is a compile error
          pre() {
            return { bdoy: {} };
          },
        },
      },
    });
  });
});
