import type { HookCall, PostHookReply, PreHookReply } from "@powerstrip/protocol";
import { isEditableRequestHeader, validatePostHookReply, validatePreHookReply } from "@powerstrip/protocol";

/** Either the protocol reply to send, or why the hook's return value cannot be one. */
export type ReplyOutcome<T> = { ok: true; reply: T } | { ok: false; problem: string };

/**
 * A pre-hook's return value as a protocol reply: nothing → allow; an object with `action` → as is
 * (e.g. `ctx.deny(...)`); any other object → rewrite (or allow, when it holds only warnings).
 */
export function toPreHookReply(
  value: unknown,
  call: HookCall,
  credentials = false,
): ReplyOutcome<PreHookReply> {
  const json = asJson(value);
  if (!json.ok) return json;
  const reply = shorthand(json.value, "allow");
  const checked = validatePreHookReply(reply);
  if (!checked.ok) return { ok: false, problem: checked.errors.join("; ") };
  if (checked.value.action === "rewrite" && checked.value.headers && !credentials) {
    const { set, remove } = checked.value.headers;
    const named = [...Object.keys(set ?? {}), ...(remove ?? [])];
    const credential = named.find((name) => !isEditableRequestHeader(name, { credentials: false }));
    if (credential !== undefined) {
      return {
        ok: false,
        problem: `headers: ${credential} carries the client's credentials; an adapter edits it only when it declares credentials: true and the operator loads it with --allow-credentials`,
      };
    }
  }
  if (checked.value.action === "rewrite" && checked.value.patch && !("body" in call.request)) {
    return {
      ok: false,
      problem: `patch needs the request body, which the call did not carry (${omitted(call.request.bodyOmitted)})`,
    };
  }
  return { ok: true, reply: checked.value };
}

/** A post-hook's return value as a protocol reply: nothing → pass; `action` → as is; else rewrite. */
export function toPostHookReply(value: unknown, call: HookCall): ReplyOutcome<PostHookReply> {
  const json = asJson(value);
  if (!json.ok) return json;
  const reply = shorthand(json.value, "pass");
  const checked = validatePostHookReply(reply);
  if (!checked.ok) return { ok: false, problem: checked.errors.join("; ") };
  const response = call.response!;
  if (
    checked.value.action === "rewrite" &&
    response.streamed &&
    ("body" in checked.value || checked.value.patch)
  ) {
    return {
      ok: false,
      problem: "a streamed response has no body to rewrite: change only status and headers",
    };
  }
  if (checked.value.action === "rewrite" && checked.value.patch && !("body" in response)) {
    return {
      ok: false,
      problem: `patch needs the response body, which the call did not carry (${omitted(response.bodyOmitted)})`,
    };
  }
  return { ok: true, reply: checked.value };
}

/** What goes on the wire is JSON: `undefined` fields vanish, and a value JSON cannot carry is a problem. */
function asJson(value: unknown): { ok: true; value: unknown } | { ok: false; problem: string } {
  if (value === undefined || value === null) return { ok: true, value: undefined };
  try {
    return { ok: true, value: JSON.parse(JSON.stringify(value)) };
  } catch (error) {
    return { ok: false, problem: `the returned value is not JSON: ${(error as Error).message}` };
  }
}

function shorthand(value: unknown, pass: "allow" | "pass"): unknown {
  if (value === undefined) return { action: pass };
  if (typeof value !== "object" || Array.isArray(value) || value === null) return value;
  if ("action" in value) return value;
  const { warnings, ...changes } = value as Record<string, unknown>;
  const reply: Record<string, unknown> =
    Object.keys(changes).length === 0 ? { action: pass } : { action: "rewrite", ...changes };
  if (reply.headers !== null && typeof reply.headers === "object")
    reply.headers = lowerCaseHeaders(reply.headers);
  if (warnings !== undefined) reply.warnings = warnings;
  return reply;
}

/** Header names are case-insensitive for authors; the protocol wants them lower-case. */
function lowerCaseHeaders(edits: object): object {
  const { set, remove, ...rest } = edits as { set?: unknown; remove?: unknown };
  const lowered: Record<string, unknown> = { ...rest };
  if (set !== null && typeof set === "object" && !Array.isArray(set)) {
    lowered.set = Object.fromEntries(Object.entries(set).map(([name, v]) => [name.toLowerCase(), v]));
  } else if (set !== undefined) lowered.set = set;
  if (Array.isArray(remove))
    lowered.remove = remove.map((name) => (typeof name === "string" ? name.toLowerCase() : name));
  else if (remove !== undefined) lowered.remove = remove;
  return lowered;
}

function omitted(reason: string | undefined): string {
  return reason === undefined ? "there was none" : `bodyOmitted: ${reason}`;
}
