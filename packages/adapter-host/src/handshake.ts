import {
  ADAPTER_ENDPOINTS,
  HANDSHAKE_DEFAULTS,
  type HandshakeReply,
  type HandshakeRequest,
  PROTOCOL_VERSION,
  validateHandshakeReply,
} from "@powerstrip/protocol";
import type {
  FailurePolicy,
  HookDeclaration,
  HookedAdapter,
  HttpAdapterTransport,
} from "@powerstrip/proxy-core";
import { AdapterHostError, AdapterHostErrorCode } from "./errors.js";

/** What a handshake settled: the reply with every default filled in. */
export interface Handshake {
  name: string;
  adapterVersion: string | undefined;
  priority: number;
  failurePolicy: FailurePolicy;
  timeoutMs: number;
  hooks: HookDeclaration[];
  /** It asks for the client's credential headers (sent only if the operator allows it too). */
  credentials: boolean;
}

/** The versions this proxy speaks, most preferred first. */
export const OFFERED_VERSIONS = [PROTOCOL_VERSION] as const;

export function handshakeRequest(proxyVersion: string, name: string | undefined): HandshakeRequest {
  return {
    protocol: "powerstrip",
    versions: [...OFFERED_VERSIONS],
    proxy: { version: proxyVersion },
    ...(name === undefined ? {} : { name }),
  };
}

/**
 * Steps 1–4 of the protocol README's handshake: offer the versions, send the operator's name, get
 * the reply within `timeoutMs`, and check it (schema, the rules beyond it, and the name asked for).
 * Every failure is HANDSHAKE_FAILED with the reason: the adapter's own message, or the field at fault.
 */
export async function performHandshake(
  transport: Pick<HttpAdapterTransport, "call">,
  options: { source: string; proxyVersion: string; name: string | undefined; timeoutMs: number },
): Promise<Handshake> {
  const failed = (why: string, cause?: unknown) =>
    new AdapterHostError(
      AdapterHostErrorCode.HandshakeFailed,
      `handshake with ${options.source} failed: ${why}`,
      cause === undefined ? undefined : { cause },
    );
  let answer: unknown;
  try {
    answer = await transport.call(handshakeRequest(options.proxyVersion, options.name), {
      timeoutMs: options.timeoutMs,
      path: ADAPTER_ENDPOINTS.handshake,
    });
  } catch (error) {
    throw failed((error as Error).message, error);
  }
  const result = validateHandshakeReply(answer);
  if (!result.ok) throw failed(`invalid reply: ${result.errors.join("; ")}`);
  const reply: HandshakeReply = result.value;
  if (options.name !== undefined && reply.name !== options.name) {
    throw failed(
      `invalid reply: name: the adapter answered ${JSON.stringify(reply.name)} but was asked to be ${JSON.stringify(options.name)}`,
    );
  }
  return {
    name: reply.name,
    adapterVersion: reply.adapterVersion,
    priority: reply.priority ?? HANDSHAKE_DEFAULTS.priority,
    failurePolicy: reply.failurePolicy ?? HANDSHAKE_DEFAULTS.failurePolicy,
    timeoutMs: reply.timeoutMs ?? HANDSHAKE_DEFAULTS.timeoutMs,
    credentials: reply.credentials === true,
    hooks: reply.hooks.map((hook) => ({
      method: hook.method,
      path: hook.path,
      stage: hook.stage,
      needsBody: hook.needsBody ?? HANDSHAKE_DEFAULTS.needsBody,
    })),
  };
}

/** The registration of a current (v2) adapter from its handshake; the operator's `priority` wins. */
export function hookedAdapter(
  name: string,
  handshake: Handshake,
  transport: HttpAdapterTransport,
  priority: number | undefined,
): HookedAdapter {
  return {
    name,
    priority: priority ?? handshake.priority,
    failurePolicy: handshake.failurePolicy,
    timeoutMs: handshake.timeoutMs,
    protocolVersion: "2",
    hooks: handshake.hooks,
    transport,
  };
}
