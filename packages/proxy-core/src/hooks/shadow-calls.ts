import { AdapterFailure, AdapterFailureKind } from "./adapter-failure.js";
import {
  asFailure,
  failClosed,
  failureFields,
  legacyRefusal,
  type Recorder,
  recorder,
  recordRequestEffect,
  recordResponseEffect,
  watchCall,
  withWarnings,
} from "./call-records.js";
import { postHookCall, preHookCall } from "./hook-messages.js";
import type { HookedRequest, HookedResponse } from "./hooked-request.js";
import { applyLegacyPostReply, applyLegacyPreReply, legacyPostCall, legacyPreCall } from "./legacy-v1.js";
import type { HookedAdapter, MatchedHook } from "./registry.js";
import { applyPostReply, applyPreReply, checkPostReply, checkPreReply } from "./replies.js";
import type { ChainContext } from "./run-chain.js";

/**
 * Shadow calls in flight per adapter, at most. Clients do not wait for them, so nothing else holds
 * a slow shadow adapter back: past this, calls are skipped (recorded as an `overloaded` failure)
 * rather than piling up requests and their serialized bodies.
 */
export const MAX_SHADOW_CALLS_IN_FLIGHT = 64;

const shadowInFlight = new WeakMap<HookedAdapter, number>();

/**
 * A shadow adapter's pre-hook, called off the request's path: the client's request does not wait
 * for it, and nothing it answers (deny, rewrite, failure, warnings) reaches the call. What it would
 * have done goes to the observers. It sees the request as the hooks before it left it.
 */
export function callShadowPreHook(matched: MatchedHook, request: HookedRequest, context: ChainContext): void {
  const { adapter } = matched;
  // Hooks after this one replace fields (never mutate them), so a shallow copy stays as it is now.
  const seen: HookedRequest = { ...request };
  const watch = watchCall(context, seen);
  const record = recorder(context, matched, watch);
  shadowCall(adapter, context, record, () =>
    adapter.protocolVersion === "1"
      ? legacyPreCall(seen)
      : { ...preHookCall(matched, seen, context), shadow: true },
  )
    ?.then((reply) => {
      if (watch === null) return;
      const scratch: HookedRequest = { ...seen };
      let warnings: string[] | undefined;
      if (adapter.protocolVersion === "1") {
        applyLegacyPreReply(reply, scratch);
      } else {
        const checked = checkPreReply(reply, adapter);
        warnings = checked.warnings;
        if (checked.action === "deny") {
          const { status, message } = checked;
          record("would-deny", { status, message, ...withWarnings(warnings) });
          return;
        }
        applyPreReply(checked, scratch);
      }
      recordRequestEffect(context, record, seen, scratch, warnings, "would-rewrite");
    })
    .catch((error: unknown) => {
      const failure = asFailure(error);
      const refusal = legacyRefusal(adapter, failure);
      if (refusal !== null) record("would-deny", refusal);
      else recordShadowFailure(record, adapter, failure);
    });
}

/** A shadow adapter's post-hook, off the response's path: the client's response does not wait for it. */
export function callShadowPostHook(
  matched: MatchedHook,
  request: HookedRequest,
  response: HookedResponse,
  context: ChainContext,
): void {
  const { adapter } = matched;
  if (adapter.protocolVersion === "1" && response.observed) return;
  const seen: HookedResponse = { ...response };
  const watch = watchCall(context, request);
  const record = recorder(context, matched, watch);
  shadowCall(adapter, context, record, () =>
    adapter.protocolVersion === "1"
      ? legacyPostCall(request, seen)
      : { ...postHookCall(matched, request, seen, context), shadow: true },
  )
    ?.then((reply) => {
      if (watch === null) return;
      const scratch: HookedResponse = { ...seen };
      let warnings: string[] | undefined;
      if (adapter.protocolVersion === "1") applyLegacyPostReply(reply, scratch);
      else {
        const checked = checkPostReply(reply);
        warnings = checked.warnings;
        if (!seen.observed) applyPostReply(checked, scratch);
      }
      recordResponseEffect(context, record, seen, scratch, warnings, "would-rewrite");
    })
    .catch((error: unknown) => recordShadowFailure(record, adapter, asFailure(error)));
}

/**
 * Sends one shadow call, counted for unregister and against the in-flight cap; null when the cap
 * skipped it (that is recorded here). Never throws: a message that cannot be built or a transport
 * that throws at once becomes a rejected promise, and the counts are given back whatever happens.
 */
function shadowCall(
  adapter: HookedAdapter,
  context: ChainContext,
  record: Recorder,
  message: () => unknown,
): Promise<unknown> | null {
  const inFlight = shadowInFlight.get(adapter) ?? 0;
  if (inFlight >= MAX_SHADOW_CALLS_IN_FLIGHT) {
    const failure = new AdapterFailure(
      AdapterFailureKind.Overloaded,
      `${inFlight} shadow calls already in flight; this one was skipped`,
    );
    record("ignored-failure", failureFields(failure));
    return null;
  }
  shadowInFlight.set(adapter, inFlight + 1);
  context.registry.enter(adapter.name);
  return new Promise<unknown>((resolve) =>
    resolve(adapter.transport.call(message(), { timeoutMs: adapter.timeoutMs })),
  ).finally(() => {
    shadowInFlight.set(adapter, (shadowInFlight.get(adapter) ?? 1) - 1);
    context.registry.leave(adapter.name);
  });
}

/** A shadow failure is never acted on; under "fail" it is recorded as what the client would have got. */
function recordShadowFailure(record: Recorder, adapter: HookedAdapter, failure: AdapterFailure): void {
  if (adapter.failurePolicy === "ignore") {
    record("ignored-failure", failureFields(failure));
    return;
  }
  record("would-fail", { ...failClosed(adapter.name, failure), ...failureFields(failure) });
}
