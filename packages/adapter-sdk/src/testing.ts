import type {
  ClientIdentity,
  HandshakeReply,
  HandshakeRequest,
  PostHookReply,
  PreHookReply,
} from "@powerstrip/protocol";
import { AdapterSdkError, AdapterSdkErrorCode } from "./errors.js";
import { answerHandshake } from "./handshake.js";
import { answerHook } from "./hooks.js";
import { type Logger, silentLogger } from "./logger.js";
import { type Answer, createSession, type Session } from "./session.js";
import { buildHookCall, findHook, type TestRequest, type TestResponse } from "./testing/build-call.js";
import type { Adapter } from "./types.js";

export type { TestRequest, TestResponse } from "./testing/build-call.js";

/** What the proxy's handshake says besides the version offer. */
export interface TestHandshake {
  /** The operator's name override. */
  name?: string;
  config?: Record<string, unknown>;
}

interface CallOptions extends TestHandshake {
  /** Call this hook key rather than the first declared one that matches. */
  hook?: string;
  requestId?: string;
  /** Where the adapter logs; silent by default. */
  logger?: Logger;
  /** Who the call comes from (`ctx.client`), e.g. `{ transport: "tls", certificate: { … } }`; none by default. */
  client?: ClientIdentity;
  /** The call as to an adapter loaded in shadow mode (`ctx.shadow`); false by default. */
  shadow?: boolean;
}

export interface PreHookCallInput extends TestRequest, CallOptions {}

export interface PostHookCallInput extends CallOptions {
  /** The request as Docker received it. */
  request: TestRequest;
  response: TestResponse;
}

/**
 * Sends the adapter the handshake a proxy would (offering protocol "2" unless `offer.versions`
 * says otherwise) and returns its reply. A refusal throws AdapterSdkError CALL_FAILED.
 */
export async function handshake(
  adapter: Adapter,
  offer: Partial<HandshakeRequest> = {},
): Promise<HandshakeReply> {
  const session = createSession(adapter, silentLogger);
  return expectOk(await answerHandshake(session, offerFor(offer))) as HandshakeReply;
}

/**
 * Calls the pre-hook matching `method` + `path` exactly as the proxy would — the same HookCall
 * (credential headers only for an adapter declaring `credentials`, as if the operator allowed it),
 * the same validation and dispatch as serve(), no socket — and returns the validated reply.
 * An adapter failure (a hook that throws or returns garbage) throws AdapterSdkError CALL_FAILED.
 */
export async function callPreHook(adapter: Adapter, input: PreHookCallInput): Promise<PreHookReply> {
  const hook = findHook(adapter, "pre", input, input.hook);
  const session = await configuredSession(adapter, input);
  const call = buildHookCall(
    session.name,
    hook,
    input,
    undefined,
    input.requestId,
    declaresCredentials(adapter),
  );
  if (input.client !== undefined) call.client = input.client;
  if (input.shadow) call.shadow = true;
  return expectOk(await answerHook(session, call)) as PreHookReply;
}

/** Calls the post-hook matching `request` with Docker's `response`; see callPreHook. */
export async function callPostHook(adapter: Adapter, input: PostHookCallInput): Promise<PostHookReply> {
  const hook = findHook(adapter, "post", input.request, input.hook);
  const session = await configuredSession(adapter, input);
  const call = buildHookCall(
    session.name,
    hook,
    input.request,
    input.response,
    input.requestId,
    declaresCredentials(adapter),
  );
  if (input.client !== undefined) call.client = input.client;
  if (input.shadow) call.shadow = true;
  return expectOk(await answerHook(session, call)) as PostHookReply;
}

/** A session the way the proxy leaves it: after a handshake with the test's name and config. */
async function configuredSession(adapter: Adapter, options: CallOptions): Promise<Session> {
  const session = createSession(adapter, options.logger ?? silentLogger);
  const offer: Partial<HandshakeRequest> = {};
  if (options.name !== undefined) offer.name = options.name;
  if (options.config !== undefined) offer.config = options.config;
  expectOk(await answerHandshake(session, offerFor(offer)));
  return session;
}

/** The proxy sends credential headers only to adapters that declare them (and the operator allowed). */
function declaresCredentials(adapter: Adapter): boolean {
  return adapter.definition.credentials === true;
}

function offerFor(offer: Partial<HandshakeRequest>): HandshakeRequest {
  return { protocol: "powerstrip", versions: ["2"], proxy: { version: "0.0.0-test" }, ...offer };
}

function expectOk(answer: Answer): object {
  if (answer.status === 200) return answer.body;
  const { message } = answer.body as { message: string };
  throw new AdapterSdkError(AdapterSdkErrorCode.CallFailed, message, { status: answer.status });
}
