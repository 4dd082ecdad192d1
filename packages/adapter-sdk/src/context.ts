import type { HookCall, HookRequest } from "@powerstrip/protocol";
import type { Session } from "./session.js";
import type { HookRequestView, PostHookContext, PreHookContext } from "./types.js";

/** The ctx a pre-hook gets, from the call the proxy sent. */
export function preHookContext(session: Session, call: HookCall): PreHookContext {
  return {
    ...base(session, call),
    ...requestView(call.request),
    stage: "pre",
    deny: (status, message) => ({ action: "deny", status, message }),
  };
}

/** The ctx a post-hook gets, from the call the proxy sent. */
export function postHookContext(session: Session, call: HookCall): PostHookContext {
  const response = call.response!;
  return {
    ...base(session, call),
    stage: "post",
    request: requestView(call.request),
    response: {
      status: response.status,
      headers: response.headers,
      body: response.body,
      bodyOmitted: response.bodyOmitted,
      streamed: response.streamed,
    },
  };
}

function base(session: Session, call: HookCall) {
  return {
    adapter: session.name,
    hook: call.hook,
    requestId: call.requestId,
    shadow: call.shadow === true,
    client: call.client,
    apiVersion: call.request.apiVersion,
    params: call.request.params,
    config: session.config,
    log: session.log,
  };
}

function requestView(request: HookRequest): HookRequestView {
  return {
    method: request.method,
    path: request.path,
    apiVersion: request.apiVersion,
    params: request.params,
    query: request.query,
    headers: request.headers,
    body: request.body,
    bodyOmitted: request.bodyOmitted,
  };
}
