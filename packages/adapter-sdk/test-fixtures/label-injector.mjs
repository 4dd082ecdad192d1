// The DESIGN §4 form, in plain JavaScript ESM: what a third party writes first.
// Run with POWERSTRIP_ADAPTER_SOCKET=/path.sock: src/javascript-fixture.test.ts drives it over that
// socket in the workspace; test/third-party.test.ts copies it into a project outside the workspace
// that installed @powerstrip/adapter-sdk from its packed tarball, as `adapter.mjs`.
import { defineAdapter, serve } from "@powerstrip/adapter-sdk";

export const adapter = defineAdapter({
  name: "label-injector",
  priority: 100, // optional; lower runs first on the way in
  failurePolicy: "fail", // optional; "fail" (default) or "ignore"
  timeoutMs: 2000, // optional
  hooks: {
    "POST /containers/create": {
      pre(ctx) {
        if (ctx.body.Image === "bad") return ctx.deny(403, "no bad images");
        return { body: { ...ctx.body, Labels: { ...ctx.body.Labels, seen: "yes" } } };
      },
      post(ctx) {
        if (ctx.response.status !== 201) return;
        const warnings = [
          ...(ctx.response.body.Warnings ?? []),
          `labelled ${ctx.request.query.name ?? "a container"}`,
        ];
        return { body: { ...ctx.response.body, Warnings: warnings } };
      },
    },
    "POST /containers/{id}/start": {
      post(ctx) {
        // Slow on purpose, so the test can send SIGTERM while this call is in flight.
        return new Promise((resolve) =>
          setTimeout(() => resolve({ headers: { set: { "X-Started": ctx.params.id } } }), 300),
        );
      },
    },
  },
});

const running = await serve(adapter); // unix socket from POWERSTRIP_ADAPTER_SOCKET, else { socket } or { port }
console.log(`ready ${running.address}`);
// running.close() stops it; SIGTERM stops it gracefully
