// A third party's first adapter, in plain JavaScript ESM and the DESIGN §4 form. third-party.test.ts
// copies it into a project outside the workspace that installed @powerstrip/adapter-sdk from its
// packed tarball, and runs it with `node adapter.mjs` and POWERSTRIP_ADAPTER_SOCKET.
import { defineAdapter, serve } from "@powerstrip/adapter-sdk";

const adapter = defineAdapter({
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
        return { headers: { set: { "X-Started": ctx.params.id } } };
      },
    },
  },
});

const running = await serve(adapter); // unix socket from POWERSTRIP_ADAPTER_SOCKET; SIGTERM stops it
console.log(`ready ${running.address}`);
