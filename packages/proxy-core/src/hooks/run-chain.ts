import { requestChanges, responseChanges } from "../observe/changes.js";
import type { HookCallRecord, Observers } from "../observe/observer.js";
import { type AdapterFailure, AdapterFailureKind, failureStatus } from "./adapter-failure.js";
import { type CallFacts, postHookCall, preHookCall } from "./hook-messages.js";
import { type HookedRequest, type HookedResponse, type Json, requestTarget } from "./hooked-request.js";
import { applyLegacyPostReply, applyLegacyPreReply, legacyPostCall, legacyPreCall } from "./legacy-v1.js";
import type { HookRegistry, MatchedHook } from "./registry.js";
import { applyPostReply, applyPreReply, checkPostReply, checkPreReply, type HeaderEdits } from "./replies.js";
import {
  asFailure,
  type CallWatch,
  callShadowPostHook,
  callShadowPreHook,
  failClosedMessage,
  failureFields,
  recordCall,
  watchCall,
} from "./shadow-calls.js";

/** What the pre-hooks decided. */
export type PreOutcome =
  | { kind: "forward"; request: HookedRequest; warnings: string[] }
  | { kind: "deny"; status: number; message: string; warnings: string[] };

export interface ChainContext extends CallFacts {
  registry: HookRegistry;
  /** Who watches the hook calls (trace, metrics, logs); nothing is recorded when absent or idle. */
  observers?: Observers;
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
    // Apply steps replace the request's fields, never mutate them: a shallow copy is the "before".
    const before = watch === null ? null : { ...request };
    context.registry.enter(adapter.name);
    try {
      if (adapter.protocolVersion === "1") {
        const reply = await adapter.transport.call(legacyPreCall(request), { timeoutMs: adapter.timeoutMs });
        applyLegacyPreReply(reply, request);
        if (watch !== null) recordPreRewrite(context, matched, watch, before!, request, undefined);
        continue;
      }
      const message = preHookCall(matched, request, context);
      const reply = checkPreReply(
        await adapter.transport.call(message, { timeoutMs: adapter.timeoutMs }),
        adapter,
      );
      if (reply.warnings) warnings.push(...reply.warnings);
      if (reply.action === "deny") {
        if (watch !== null) {
          recordCall(context, matched, watch, "deny", {
            status: reply.status,
            message: reply.message,
            ...withWarnings(reply.warnings),
          });
        }
        return { kind: "deny", status: reply.status, message: reply.message, warnings };
      }
      applyPreReply(reply, request);
      if (watch !== null) recordPreRewrite(context, matched, watch, before!, request, reply.warnings);
    } catch (error) {
      const failure = asFailure(error);
      if (adapter.protocolVersion === "1" && isErrorAnswer(failure)) {
        // As in 2015: a legacy adapter refuses a call by answering with an error status.
        const message = failure.said || `refused by ${adapter.name}`;
        if (watch !== null) recordCall(context, matched, watch, "deny", { status: failure.status!, message });
        return { kind: "deny", status: failure.status!, message, warnings };
      }
      if (adapter.failurePolicy === "ignore") {
        if (watch !== null) recordCall(context, matched, watch, "ignored-failure", failureFields(failure));
        continue;
      }
      const closed = failClosed(adapter.name, failure);
      if (watch !== null)
        recordCall(context, matched, watch, "failed", { ...closed, ...failureFields(failure) });
      return { kind: "deny", ...closed, warnings };
    } finally {
      context.registry.leave(adapter.name);
    }
  }
  return { kind: "forward", request, warnings };
}

/**
 * Runs the post-hooks (already in reverse order). A failing hook under "fail" replaces the
 * response with an error naming the adapter; under "ignore" it is skipped.
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
    const watch = watchCall(context, request);
    const before = watch === null ? null : { ...response, changed: false };
    context.registry.enter(adapter.name);
    try {
      if (adapter.protocolVersion === "1") {
        if (response.streamed) continue; // the 2015 protocol has no way to say "headers only"
        const reply = await adapter.transport.call(legacyPostCall(request, response), {
          timeoutMs: adapter.timeoutMs,
        });
        const changedBefore = response.changed;
        response.changed = false;
        applyLegacyPostReply(reply, response);
        if (watch !== null) recordPostRewrite(context, matched, watch, before!, response, undefined);
        response.changed ||= changedBefore;
        continue;
      }
      const message = postHookCall(matched, request, response, context);
      const reply = checkPostReply(await adapter.transport.call(message, { timeoutMs: adapter.timeoutMs }));
      if (reply.warnings) response.warnings = [...(response.warnings ?? []), ...reply.warnings];
      // Streamed and upgraded responses are already under way: their hooks only observe.
      const applies = !response.streamed && reply.action === "rewrite";
      if (applies) applyPostReply(reply, response);
      if (watch !== null) {
        const extra: Partial<HookCallRecord> = withWarnings(reply.warnings);
        if (applies && context.observers!.changes) extra.changes = responseChanges(before!, response);
        recordCall(context, matched, watch, applies ? "rewrite" : "pass", extra);
      }
    } catch (error) {
      const failure = asFailure(error);
      if (adapter.failurePolicy === "ignore" || response.streamed) {
        if (watch !== null) recordCall(context, matched, watch, "ignored-failure", failureFields(failure));
        continue;
      }
      const { status, message } = failClosed(adapter.name, failure);
      if (watch !== null)
        recordCall(context, matched, watch, "failed", { status, message, ...failureFields(failure) });
      replaceWithError(response, status, message);
      return response;
    } finally {
      context.registry.leave(adapter.name);
    }
  }
  return response;
}

function isErrorAnswer(failure: AdapterFailure): boolean {
  return (
    failure.kind === AdapterFailureKind.BadStatus && failure.status !== undefined && failure.status >= 400
  );
}

function failClosed(name: string, failure: AdapterFailure): { status: number; message: string } {
  return { status: failureStatus(failure.kind), message: failClosedMessage(name, failure) };
}

function withWarnings(warnings: string[] | undefined): Partial<HookCallRecord> {
  return warnings && warnings.length > 0 ? { warnings } : {};
}

function recordPreRewrite(
  context: ChainContext,
  matched: MatchedHook,
  watch: CallWatch,
  before: HookedRequest,
  after: HookedRequest,
  warnings: string[] | undefined,
): void {
  const changed =
    after.headChanged !== before.headChanged ||
    after.bodyChanged !== before.bodyChanged ||
    after.method !== before.method ||
    after.path !== before.path ||
    after.query !== before.query ||
    after.headers !== before.headers ||
    after.body !== before.body;
  const extra = withWarnings(warnings);
  if (changed && context.observers!.changes) extra.changes = requestChanges(before, after);
  recordCall(context, matched, watch, changed ? "rewrite" : "allow", extra);
}

function recordPostRewrite(
  context: ChainContext,
  matched: MatchedHook,
  watch: CallWatch,
  before: HookedResponse,
  after: HookedResponse,
  warnings: string[] | undefined,
): void {
  const extra = withWarnings(warnings);
  if (after.changed && context.observers!.changes) extra.changes = responseChanges(before, after);
  recordCall(context, matched, watch, after.changed ? "rewrite" : "pass", extra);
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
