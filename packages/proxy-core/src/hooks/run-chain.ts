import type { Observers } from "../observe/observer.js";
import {
  asFailure,
  failClosed,
  failureFields,
  legacyRefusal,
  recorder,
  recordRequestEffect,
  recordResponseEffect,
  watchCall,
  withWarnings,
} from "./call-records.js";
import { type CallFacts, postHookCall, preHookCall } from "./hook-messages.js";
import { type HookedRequest, type HookedResponse, type Json, requestTarget } from "./hooked-request.js";
import { applyLegacyPostReply, applyLegacyPreReply, legacyPostCall, legacyPreCall } from "./legacy-v1.js";
import type { HookRegistry, MatchedHook } from "./registry.js";
import { applyPostReply, applyPreReply, checkPostReply, checkPreReply, type HeaderEdits } from "./replies.js";
import { callShadowPostHook, callShadowPreHook } from "./shadow-calls.js";

/** What the pre-hooks decided. */
export type PreOutcome =
  | { kind: "forward"; request: HookedRequest; warnings: string[] }
  | { kind: "deny"; status: number; message: string; warnings: string[] };

export interface ChainContext extends CallFacts {
  registry: HookRegistry;
  /** Who watches the hook calls (trace, metrics, logs); nothing is recorded while its flags are off. */
  observers: Observers;
}

/** Runs the pre-hooks in order; each sees the rewrites of those before it. */
export async function runPreHooks(
  hooks: MatchedHook[],
  request: HookedRequest,
  context: ChainContext,
): Promise<PreOutcome> {
  const warnings: string[] = [];
  for (const matched of hooks) {
    const { adapter } = matched;
    if (adapter.shadow) {
      callShadowPreHook(matched, request, context);
      continue;
    }
    const watch = watchCall(context, request);
    const record = recorder(context, matched, watch);
    // Apply steps replace the request's fields, never mutate them: a shallow copy is the "before".
    const before = watch === null ? null : { ...request };
    context.registry.enter(adapter.name);
    try {
      if (adapter.protocolVersion === "1") {
        const reply = await adapter.transport.call(legacyPreCall(request), { timeoutMs: adapter.timeoutMs });
        applyLegacyPreReply(reply, request);
        if (before !== null) recordRequestEffect(context, record, before, request, undefined);
        continue;
      }
      const message = preHookCall(matched, request, context);
      const reply = checkPreReply(
        await adapter.transport.call(message, { timeoutMs: adapter.timeoutMs }),
        adapter,
      );
      if (reply.warnings) warnings.push(...reply.warnings);
      if (reply.action === "deny") {
        const { status, message: said } = reply;
        record("deny", { status, message: said, ...withWarnings(reply.warnings) });
        return { kind: "deny", status, message: said, warnings };
      }
      applyPreReply(reply, request);
      if (before !== null) recordRequestEffect(context, record, before, request, reply.warnings);
    } catch (error) {
      const failure = asFailure(error);
      const refusal = legacyRefusal(adapter, failure);
      if (refusal !== null) {
        record("deny", refusal);
        return { kind: "deny", ...refusal, warnings };
      }
      if (adapter.failurePolicy === "ignore") {
        record("ignored-failure", failureFields(failure));
        continue;
      }
      const closed = failClosed(adapter.name, failure);
      record("failed", { ...closed, ...failureFields(failure) });
      return { kind: "deny", ...closed, warnings };
    } finally {
      context.registry.leave(adapter.name);
    }
  }
  return { kind: "forward", request, warnings };
}

/**
 * Runs the post-hooks (already in reverse order). A failing hook under "fail" replaces the
 * response with an error naming the adapter; under "ignore" it is skipped. An observe-only
 * response (`observed`) is not changed by anything they say.
 */
export async function runPostHooks(
  hooks: MatchedHook[],
  request: HookedRequest,
  response: HookedResponse,
  context: ChainContext,
): Promise<HookedResponse> {
  for (const matched of hooks) {
    const { adapter } = matched;
    if (adapter.shadow) {
      callShadowPostHook(matched, request, response, context);
      continue;
    }
    // The 2015 protocol has no way to say "headers only": its adapters see whole responses only.
    if (adapter.protocolVersion === "1" && response.observed) continue;
    const watch = watchCall(context, request);
    const record = recorder(context, matched, watch);
    const before = watch === null ? null : { ...response };
    context.registry.enter(adapter.name);
    try {
      let warnings: string[] | undefined;
      if (adapter.protocolVersion === "1") {
        const reply = await adapter.transport.call(legacyPostCall(request, response), {
          timeoutMs: adapter.timeoutMs,
        });
        applyLegacyPostReply(reply, response);
      } else {
        const message = postHookCall(matched, request, response, context);
        const reply = checkPostReply(await adapter.transport.call(message, { timeoutMs: adapter.timeoutMs }));
        warnings = reply.warnings;
        if (warnings) response.warnings = [...(response.warnings ?? []), ...warnings];
        if (!response.observed) applyPostReply(reply, response);
      }
      if (before !== null) recordResponseEffect(context, record, before, response, warnings);
    } catch (error) {
      const failure = asFailure(error);
      // An observe-only response is already on its way: a failure cannot replace it.
      if (adapter.failurePolicy === "ignore" || response.observed) {
        record("ignored-failure", failureFields(failure));
        continue;
      }
      const { status, message } = failClosed(adapter.name, failure);
      record("failed", { status, message, ...failureFields(failure) });
      replaceWithError(response, status, message);
      return response;
    } finally {
      context.registry.leave(adapter.name);
    }
  }
  return response;
}

function replaceWithError(response: HookedResponse, status: number, message: string): void {
  response.status = status;
  response.headers = ["Content-Type", "application/json"];
  response.body = { message } as Json;
  response.bodyOmitted = undefined;
  response.changed = true;
}

export type { HeaderEdits };
export { requestTarget };
