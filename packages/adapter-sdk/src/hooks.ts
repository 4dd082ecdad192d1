import { validateHookCall } from "@powerstrip/protocol";
import { postHookContext, preHookContext } from "./context.js";
import { toPostHookReply, toPreHookReply } from "./replies.js";
import type { Answer, Session } from "./session.js";
import type { HookHandlers } from "./types.js";

/**
 * POST /powerstrip/hook: validate the call, run the hook it names, and send its return value as a
 * validated reply. A hook that throws or returns something unsendable is an adapter failure: 500
 * with `{ message: "<adapter>: ..." }`, which the proxy handles by the failure policy.
 */
export async function answerHook(session: Session, message: unknown): Promise<Answer> {
  const checked = validateHookCall(message);
  if (!checked.ok) return fail(session, 400, `invalid hook call: ${checked.errors.join("; ")}`);
  const call = checked.value;
  const { hooks } = session.adapter.definition;
  const handlers = Object.hasOwn(hooks, call.hook) ? (hooks[call.hook as never] as HookHandlers) : undefined;
  const handler = handlers?.[call.stage];
  if (handler === undefined) {
    return fail(session, 400, `no ${call.stage} hook for ${JSON.stringify(call.hook)}`);
  }
  const what = `${call.stage} hook ${call.hook}`;
  let value: unknown;
  try {
    value =
      call.stage === "pre"
        ? await (handlers as Required<HookHandlers>).pre(preHookContext(session, call))
        : await (handlers as Required<HookHandlers>).post(postHookContext(session, call));
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    session.log.error(`${what} threw: ${reason}${whereThrown(error)}`);
    return { status: 500, body: { message: `${session.name}: ${reason}` } };
  }
  const outcome =
    call.stage === "pre"
      ? toPreHookReply(value, call, session.adapter.definition.credentials === true)
      : toPostHookReply(value, call);
  if (!outcome.ok) return fail(session, 500, `${what} returned an invalid reply: ${outcome.problem}`);
  return { status: 200, body: outcome.reply };
}

function fail(session: Session, status: number, reason: string): Answer {
  if (status >= 500) session.log.error(reason);
  else session.log.warn(reason);
  return { status, body: { message: `${session.name}: ${reason}` } };
}

/** The first stack frame, so the one log line says where the hook threw. */
function whereThrown(error: unknown): string {
  const frame = error instanceof Error ? error.stack?.split("\n")[1]?.trim() : undefined;
  return frame?.startsWith("at ") ? ` (${frame})` : "";
}
