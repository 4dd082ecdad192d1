import type { ProtocolError } from "../errors.js";
import type { HandshakeReply, LegacyAdaptersFile } from "../generated/types.js";
import { parseHookPattern } from "../hook-pattern.js";

// Rules a JSON Schema cannot state; each validator runs them after its schema passes.

/** No two hooks with the same method + path + stage; no path naming a {param} twice. */
export function handshakeReplyRules(reply: HandshakeReply): string[] {
  const errors: string[] = [];
  const seen = new Map<string, number>();
  reply.hooks.forEach((hook, index) => {
    const key = `${hook.stage} ${hook.method} ${hook.path}`;
    const first = seen.get(key);
    if (first !== undefined)
      errors.push(`hooks[${index}]: repeats hooks[${first}] (${hook.stage} ${hook.method} ${hook.path})`);
    else seen.set(key, index);
    try {
      parseHookPattern(`${hook.method} ${hook.path}`);
    } catch (error) {
      errors.push(`hooks[${index}].path: ${(error as ProtocolError).message}`);
    }
  });
  return errors;
}

/** Every adapter an endpoint names must be defined under `adapters`. */
export function legacyAdaptersFileRules(file: LegacyAdaptersFile): string[] {
  const errors: string[] = [];
  for (const [endpoint, stages] of Object.entries(file.endpoints)) {
    for (const stage of ["pre", "post"] as const) {
      stages[stage]?.forEach((name, index) => {
        if (!Object.hasOwn(file.adapters, name)) {
          errors.push(
            `endpoints[${JSON.stringify(endpoint)}].${stage}[${index}]: adapter "${name}" is not defined under adapters`,
          );
        }
      });
    }
  }
  return errors;
}
