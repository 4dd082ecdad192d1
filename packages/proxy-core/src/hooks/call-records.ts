import { requestChanges, responseChanges } from "../observe/changes.js";
import type { HookCallRecord, HookDecision } from "../observe/observer.js";
import { AdapterFailure, AdapterFailureKind, failureStatus } from "./adapter-failure.js";
import type { HookedRequest, HookedResponse } from "./hooked-request.js";
import type { HookedAdapter, MatchedHook } from "./registry.js";
import type { ChainContext } from "./run-chain.js";

/** What live and shadow hook calls share: their records for observers, and how failures read. */

/** When a hook call started, for its record. Taken only when someone observes. */
export interface CallWatch {
  time: number;
  started: number;
  method: string;
  path: string;
}

export function watchCall(context: ChainContext, request: HookedRequest): CallWatch | null {
  if (!context.observers.hooks) return null;
  return { time: Date.now(), started: performance.now(), method: request.method, path: request.path };
}

/** Tells the observers how a call went; nothing when the call is not watched. */
export function recordCall(
  context: ChainContext,
  matched: MatchedHook,
  watch: CallWatch | null,
  decision: HookDecision,
  extra: Partial<HookCallRecord> = {},
): void {
  if (watch === null) return;
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
  context.observers.hookCall(record);
}

/** Records one hook call's outcome: recordCall bound to the call, so callers name only the decision. */
export type Recorder = (decision: HookDecision, extra?: Partial<HookCallRecord>) => void;

export function recorder(context: ChainContext, matched: MatchedHook, watch: CallWatch | null): Recorder {
  return (decision, extra) => recordCall(context, matched, watch, decision, extra);
}

/**
 * Records what a pre-hook did to the request: `rewrite` (`would-rewrite` for a shadow adapter),
 * with the diff when an observer wants diffs, or `allow`.
 */
export function recordRequestEffect(
  context: ChainContext,
  record: Recorder,
  before: HookedRequest,
  after: HookedRequest,
  warnings: string[] | undefined,
  rewrite: "rewrite" | "would-rewrite" = "rewrite",
): void {
  const changed = requestDiffers(before, after);
  const extra = withWarnings(warnings);
  if (changed && context.observers.changes) extra.changes = requestChanges(before, after);
  record(changed ? rewrite : "allow", extra);
}

/** Records what a post-hook did to the response: as recordRequestEffect, `pass` when nothing. */
export function recordResponseEffect(
  context: ChainContext,
  record: Recorder,
  before: HookedResponse,
  after: HookedResponse,
  warnings: string[] | undefined,
  rewrite: "rewrite" | "would-rewrite" = "rewrite",
): void {
  const changed = responseDiffers(before, after);
  const extra = withWarnings(warnings);
  if (changed && context.observers.changes) extra.changes = responseChanges(before, after);
  record(changed ? rewrite : "pass", extra);
}

/** A record's `warnings`, present only when there are some. */
export function withWarnings(warnings: string[] | undefined): Partial<HookCallRecord> {
  return warnings !== undefined && warnings.length > 0 ? { warnings } : {};
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
    { cause: error },
  );
}

/**
 * As in 2015: a legacy (v1) adapter refuses a call by answering with an error status. The status
 * and message the client gets (or, shadow, would get); null when the failure is not a refusal.
 */
export function legacyRefusal(
  adapter: HookedAdapter,
  failure: AdapterFailure,
): { status: number; message: string } | null {
  if (adapter.protocolVersion !== "1") return null;
  if (failure.kind !== AdapterFailureKind.BadStatus || failure.status === undefined) return null;
  if (failure.status < 400) return null;
  return { status: failure.status, message: failure.said || `refused by ${adapter.name}` };
}

/** The error a client gets when a failing adapter's policy is to fail closed. */
export function failClosed(name: string, failure: AdapterFailure): { status: number; message: string } {
  return {
    status: failureStatus(failure.kind),
    message: `powerstrip: adapter "${name}" failed (${failure.message}); its failure policy is to fail closed`,
  };
}

/**
 * Whether a hook changed the request. Apply steps replace fields and never mutate them, so a
 * shallow copy taken before is compared by reference. The `headChanged`/`bodyChanged` flags say
 * whether any hook so far changed it, not this one: they are not compared.
 */
export function requestDiffers(before: HookedRequest, after: HookedRequest): boolean {
  return (
    after.method !== before.method ||
    after.path !== before.path ||
    after.apiVersion !== before.apiVersion ||
    after.query !== before.query ||
    after.headers !== before.headers ||
    after.body !== before.body
  );
}

/** Whether a hook changed the response; as requestDiffers (the `changed` flag is cumulative). */
export function responseDiffers(before: HookedResponse, after: HookedResponse): boolean {
  return after.status !== before.status || after.headers !== before.headers || after.body !== before.body;
}
