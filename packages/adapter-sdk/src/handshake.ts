import {
  compileSchema,
  type HandshakeReply,
  PROTOCOL_VERSION,
  type Validator,
  validateHandshakeReply,
  validateHandshakeRequest,
} from "@powerstrip/protocol";
import type { Answer, Session } from "./session.js";
import type { AdapterDefinition, DeclaredHook } from "./types.js";

/** The reply for a definition: one protocol hook per key × implemented stage, defaults left to the proxy. */
export function handshakeReplyFor(
  definition: AdapterDefinition,
  hooks: readonly DeclaredHook[],
  name: string,
): HandshakeReply {
  const reply: HandshakeReply = {
    version: PROTOCOL_VERSION,
    name,
    hooks: hooks.map(({ method, path, stage, needsBody }) => ({ method, path, stage, needsBody })),
  };
  if (definition.version !== undefined) reply.adapterVersion = definition.version;
  if (definition.priority !== undefined) reply.priority = definition.priority;
  if (definition.failurePolicy !== undefined) reply.failurePolicy = definition.failurePolicy;
  if (definition.timeoutMs !== undefined) reply.timeoutMs = definition.timeoutMs;
  if (definition.credentials !== undefined) reply.credentials = definition.credentials;
  if (definition.configSchema !== undefined) reply.configSchema = definition.configSchema;
  return reply;
}

/**
 * POST /powerstrip/handshake, step by step as the protocol README lists them:
 * identify (validate the offer) → negotiate (pick "2") → configure (name, config) → subscribe (reply).
 */
export async function answerHandshake(session: Session, message: unknown): Promise<Answer> {
  const { adapter, log } = session;
  const offer = validateHandshakeRequest(message);
  if (!offer.ok) return refuse(session, `invalid handshake request: ${offer.errors.join("; ")}`);

  if (!offer.value.versions.includes(PROTOCOL_VERSION)) {
    return refuse(
      session,
      `the proxy offers protocol versions ${offer.value.versions.join(", ")}; this adapter speaks ${PROTOCOL_VERSION}`,
    );
  }

  const name = offer.value.name ?? adapter.name;
  const config = offer.value.config ?? {};
  const { configSchema, configure } = adapter.definition;
  if (configSchema !== undefined) {
    const checked = configValidator(configSchema)(config);
    if (!checked.ok) return refuse(session, `invalid config: ${checked.errors.map(underConfig).join("; ")}`);
  }
  try {
    await configure?.(config, { name });
  } catch (error) {
    return refuse(session, `configure failed: ${(error as Error)?.message ?? String(error)}`);
  }

  const reply = validateHandshakeReply(handshakeReplyFor(adapter.definition, adapter.hooks, name));
  if (!reply.ok) return refuse(session, `cannot answer the handshake: ${reply.errors.join("; ")}`);
  session.name = name;
  session.config = config;
  log.info(`handshake: protocol ${PROTOCOL_VERSION}, ${describeHooks(adapter.hooks)}`);
  return { status: 200, body: reply.value };
}

const configValidators = new WeakMap<object, Validator<unknown>>();

function configValidator(schema: Record<string, unknown>): Validator<unknown> {
  let validate = configValidators.get(schema);
  if (validate === undefined) {
    validate = compileSchema(schema);
    configValidators.set(schema, validate);
  }
  return validate;
}

/** `label: is required` → `config.label: is required`. */
function underConfig(line: string): string {
  return line.startsWith("(root)") ? `config${line.slice("(root)".length)}` : `config.${line}`;
}

function refuse(session: Session, reason: string): Answer {
  session.log.warn(`handshake refused: ${reason}`);
  return { status: 400, body: { message: `${session.name}: ${reason}` } };
}

function describeHooks(hooks: readonly DeclaredHook[]): string {
  return hooks.length === 1 ? `1 hook (${hooks[0]!.stage} ${hooks[0]!.key})` : `${hooks.length} hooks`;
}
