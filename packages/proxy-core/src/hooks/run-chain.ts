import { AdapterFailure, AdapterFailureKind, failureStatus } from "./adapter-failure.js";
import { type CallFacts, postHookCall, preHookCall } from "./hook-messages.js";
import { type HookedRequest, type HookedResponse, type Json, requestTarget } from "./hooked-request.js";
import { applyLegacyPostReply, applyLegacyPreReply, legacyPostCall, legacyPreCall } from "./legacy-v1.js";
import type { HookRegistry, MatchedHook } from "./registry.js";
import { applyPostReply, applyPreReply, checkPostReply, checkPreReply, type HeaderEdits } from "./replies.js";

/** What the pre-hooks decided. */
export type PreOutcome =
  | { kind: "forward"; request: HookedRequest; warnings: string[] }
  | { kind: "deny"; status: number; message: string; warnings: string[] };

export interface ChainContext extends CallFacts {
  registry: HookRegistry;
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
    context.registry.enter(adapter.name);
    try {
      if (adapter.protocolVersion === "1") {
        const reply = await adapter.transport.call(legacyPreCall(request), { timeoutMs: adapter.timeoutMs });
        applyLegacyPreReply(reply, request);
        continue;
      }
      const message = preHookCall(matched, request, context);
      const reply = checkPreReply(await adapter.transport.call(message, { timeoutMs: adapter.timeoutMs }));
      if (reply.warnings) warnings.push(...reply.warnings);
      if (reply.action === "deny")
        return { kind: "deny", status: reply.status, message: reply.message, warnings };
      applyPreReply(reply, request);
    } catch (error) {
      const failure = asFailure(error);
      if (adapter.protocolVersion === "1" && isErrorAnswer(failure)) {
        // As in 2015: a legacy adapter refuses a call by answering with an error status.
        return {
          kind: "deny",
          status: failure.status!,
          message: failure.said || `refused by ${adapter.name}`,
          warnings,
        };
      }
      if (adapter.failurePolicy === "ignore") continue;
      return { kind: "deny", ...failClosed(adapter.name, failure), warnings };
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
    context.registry.enter(adapter.name);
    try {
      if (adapter.protocolVersion === "1") {
        if (response.streamed) continue; // the 2015 protocol has no way to say "headers only"
        const reply = await adapter.transport.call(legacyPostCall(request, response), {
          timeoutMs: adapter.timeoutMs,
        });
        applyLegacyPostReply(reply, response);
        continue;
      }
      const message = postHookCall(matched, request, response, context);
      const reply = checkPostReply(await adapter.transport.call(message, { timeoutMs: adapter.timeoutMs }));
      // Streamed and upgraded responses are already under way: their hooks only observe.
      if (!response.streamed) applyPostReply(reply, response);
    } catch (error) {
      const failure = asFailure(error);
      if (adapter.failurePolicy === "ignore" || response.streamed) continue;
      const { status, message } = failClosed(adapter.name, failure);
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

function asFailure(error: unknown): AdapterFailure {
  if (error instanceof AdapterFailure) return error;
  return new AdapterFailure(
    AdapterFailureKind.InvalidReply,
    error instanceof Error ? error.message : String(error),
    {
      cause: error,
    },
  );
}

function failClosed(name: string, failure: AdapterFailure): { status: number; message: string } {
  return {
    status: failureStatus(failure.kind),
    message: `powerstrip: adapter "${name}" failed (${failure.message}); its failure policy is to fail closed`,
  };
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
