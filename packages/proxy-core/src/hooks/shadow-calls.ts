import { requestChanges, responseChanges } from "../observe/changes.js";
import type { HookCallRecord, HookDecision } from "../observe/observer.js";
import { AdapterFailure, AdapterFailureKind, failureStatus } from "./adapter-failure.js";
import { postHookCall, preHookCall } from "./hook-messages.js";
import type { HookedRequest, HookedResponse } from "./hooked-request.js";
import { applyLegacyPostReply, applyLegacyPreReply, legacyPostCall, legacyPreCall } from "./legacy-v1.js";
import type { MatchedHook } from "./registry.js";
import { applyPostReply, applyPreReply, checkPostReply, checkPreReply } from "./replies.js";
import type { ChainContext } from "./run-chain.js";

/** When a hook call started, for its record. Taken only when someone observes. */
export interface CallWatch {
  time: number;
  started: number;
  method: string;
  path: string;
}

export function watchCall(context: ChainContext, request: HookedRequest): CallWatch | null {
  if (context.observers?.hooks !== true) return null;
  return { time: Date.now(), started: performance.now(), method: request.method, path: request.path };
}

export function recordCall(
  context: ChainContext,
  matched: MatchedHook,
  watch: CallWatch,
  decision: HookDecision,
  extra: Partial<HookCallRecord> = {},
): void {
  const record: HookCallRecord = {
    time: watch.time,
    requestId: context.requestId,
    adapter: matched.adapter.name,
    stage: matched.hook.stage,
    hook: matched.pattern,
    method: watch.method,
    path: watch.path,
    durationMs: performance.now() - watch.started,
    decision,
    shadow: matched.adapter.shadow === true,
    ...extra,
  };
  context.observers!.hookCall(record);
}

/** The failure's fields of a record. */
export function failureFields(failure: AdapterFailure): Pick<HookCallRecord, "failure"> {
  return { failure: { kind: failure.kind, message: failure.message } };
}

export function asFailure(error: unknown): AdapterFailure {
  if (error instanceof AdapterFailure) return error;
  return new AdapterFailure(
    AdapterFailureKind.InvalidReply,
    error instanceof Error ? error.message : String(error),
    {
      cause: error,
    },
  );
}

/**
 * A shadow adapter's pre-hook, called off the request's path: the client's request does not wait
 * for it, and nothing it answers (deny, rewrite, failure, warnings) reaches the call. What it would
 * have done goes to the observers. It sees the request as the hooks before it left it.
 */
export function callShadowPreHook(matched: MatchedHook, request: HookedRequest, context: ChainContext): void {
  const { adapter } = matched;
  // Hooks after this one replace fields (never mutate them), so a shallow copy stays as it is now.
  const seen: HookedRequest = { ...request };
  const message =
    adapter.protocolVersion === "1"
      ? legacyPreCall(seen)
      : { ...preHookCall(matched, seen, context), shadow: true };
  const watch = watchCall(context, seen);
  context.registry.enter(adapter.name);
  adapter.transport
    .call(message, { timeoutMs: adapter.timeoutMs })
    .then((reply) => {
      if (watch === null) return;
      const scratch: HookedRequest = { ...seen };
      let warnings: string[] | undefined;
      if (adapter.protocolVersion === "1") {
        applyLegacyPreReply(reply, scratch);
      } else {
        const checked = checkPreReply(reply, adapter);
        warnings = checked.warnings;
        if (checked.action === "deny") {
          recordCall(context, matched, watch, "would-deny", {
            status: checked.status,
            message: checked.message,
            ...(warnings ? { warnings } : {}),
          });
          return;
        }
        applyPreReply(checked, scratch);
      }
      const changed = scratch.headChanged !== seen.headChanged || scratch.bodyChanged !== seen.bodyChanged;
      const extra: Partial<HookCallRecord> = warnings ? { warnings } : {};
      if (changed && context.observers!.changes) extra.changes = requestChanges(seen, scratch);
      recordCall(context, matched, watch, changed ? "would-rewrite" : "allow", extra);
    })
    .catch((error: unknown) => {
      if (watch === null) return;
      const failure = asFailure(error);
      if (
        adapter.protocolVersion === "1" &&
        failure.kind === AdapterFailureKind.BadStatus &&
        (failure.status ?? 0) >= 400
      ) {
        recordCall(context, matched, watch, "would-deny", {
          status: failure.status!,
          message: failure.said || `refused by ${adapter.name}`,
        });
        return;
      }
      recordShadowFailure(context, matched, watch, failure);
    })
    .finally(() => context.registry.leave(adapter.name));
}

/** A shadow adapter's post-hook, off the response's path: the client's response does not wait for it. */
export function callShadowPostHook(
  matched: MatchedHook,
  request: HookedRequest,
  response: HookedResponse,
  context: ChainContext,
): void {
  const { adapter } = matched;
  if (adapter.protocolVersion === "1" && response.streamed) return;
  const seen: HookedResponse = { ...response };
  const message =
    adapter.protocolVersion === "1"
      ? legacyPostCall(request, seen)
      : { ...postHookCall(matched, request, seen, context), shadow: true };
  const watch = watchCall(context, request);
  context.registry.enter(adapter.name);
  adapter.transport
    .call(message, { timeoutMs: adapter.timeoutMs })
    .then((reply) => {
      if (watch === null) return;
      const scratch: HookedResponse = { ...seen, changed: false };
      let warnings: string[] | undefined;
      if (adapter.protocolVersion === "1") applyLegacyPostReply(reply, scratch);
      else {
        const checked = checkPostReply(reply);
        warnings = checked.warnings;
        if (!seen.streamed) applyPostReply(checked, scratch);
      }
      const extra: Partial<HookCallRecord> = warnings ? { warnings } : {};
      if (scratch.changed && context.observers!.changes) extra.changes = responseChanges(seen, scratch);
      recordCall(context, matched, watch, scratch.changed ? "would-rewrite" : "pass", extra);
    })
    .catch((error: unknown) => {
      if (watch !== null) recordShadowFailure(context, matched, watch, asFailure(error));
    })
    .finally(() => context.registry.leave(adapter.name));
}

/** A shadow failure is never acted on; under "fail" it is recorded as what the client would have got. */
function recordShadowFailure(
  context: ChainContext,
  matched: MatchedHook,
  watch: CallWatch,
  failure: AdapterFailure,
): void {
  if (matched.adapter.failurePolicy === "ignore") {
    recordCall(context, matched, watch, "ignored-failure", failureFields(failure));
    return;
  }
  recordCall(context, matched, watch, "would-fail", {
    status: failureStatus(failure.kind),
    message: failClosedMessage(matched.adapter.name, failure),
    ...failureFields(failure),
  });
}

export function failClosedMessage(name: string, failure: AdapterFailure): string {
  return `powerstrip: adapter "${name}" failed (${failure.message}); its failure policy is to fail closed`;
}
