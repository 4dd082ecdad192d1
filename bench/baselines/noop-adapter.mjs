#!/usr/bin/env node
// A no-op Powerstrip adapter for the bench's `hooks` scenario: pre-hooks on GET /_ping and
// GET /containers/json that return nothing (the request passes unchanged), so that what the
// scenario measures is the cost of a hook round trip itself: the proxy's call to the adapter over
// its unix socket, the SDK's validation and dispatch, and the reply.
//
// Served on the socket named by POWERSTRIP_ADAPTER_SOCKET (set by the bench), then loaded into a
// proxy with `powerstrip --admin unix:///… load --url unix:///….sock`. SIGTERM stops it (exit 0);
// on its way out it prints how many hook calls it answered, which the bench compares with the
// requests it sent through the hooked proxy (so a hook that silently stopped matching shows).
import { defineAdapter, serve } from "@powerstrip/adapter-sdk";

let calls = 0;
const pass = () => {
  calls++;
};

const adapter = defineAdapter({
  name: "bench-noop",
  version: "0.0.0",
  hooks: {
    "GET /_ping": { pre: pass },
    "GET /containers/json": { pre: pass },
  },
});

process.on("exit", () => {
  process.stderr.write(`bench-noop: answered ${calls} hook calls\n`);
});

await serve(adapter);
