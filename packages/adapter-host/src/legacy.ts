import { type LegacyAdaptersFile, parseHookPath } from "@powerstrip/protocol";
import type { HookDeclaration, HookStage } from "@powerstrip/proxy-core";
import { AdapterHostError, AdapterHostErrorCode } from "./errors.js";

/** A 2015 hook: what the proxy matches on, and the glob as the operator wrote it. */
export interface LegacyHook {
  declaration: HookDeclaration;
  /** The 2015 glob, e.g. `/*` + `/containers/create`, shown by `powerstrip ls`. */
  glob: string;
}

const HOOK = /^(pre|post):((?:[A-Z][A-Z_-]*|\*)) (\/\S*)$/;

/**
 * Parses a legacy hook string, `"pre:POST /*" + "/containers/create"`: stage, method, glob. A leading
 * `/*` segment is the 2015 way of saying "any API version"; Powerstrip's matcher already ignores the
 * `/vX.Y` prefix, so it is dropped. Every other segment must be a literal, `*` (one segment) or
 * `{param}`.
 */
export function parseLegacyHook(text: string): LegacyHook {
  const match = HOOK.exec(text);
  if (match === null) {
    throw new AdapterHostError(
      AdapterHostErrorCode.InvalidHook,
      `legacy hook ${JSON.stringify(text)}: expected "stage:METHOD /path", e.g. "pre:POST /*/containers/create"`,
    );
  }
  return legacyHook(match[1] as HookStage, match[2]!, match[3]!, `legacy hook ${JSON.stringify(text)}`);
}

/** The hooks a 2015 adapters.yml gives each adapter it defines, in file order. */
export function legacyFileHooks(file: LegacyAdaptersFile): Map<string, LegacyHook[]> {
  const hooks = new Map<string, LegacyHook[]>(Object.keys(file.adapters).map((name) => [name, []]));
  for (const [endpoint, stages] of Object.entries(file.endpoints)) {
    const space = endpoint.indexOf(" ");
    const method = space === -1 ? "*" : endpoint.slice(0, space);
    const glob = space === -1 ? endpoint : endpoint.slice(space + 1);
    for (const stage of ["pre", "post"] as const) {
      for (const name of stages[stage] ?? []) {
        const list = hooks.get(name);
        const hook = legacyHook(stage, method, glob, `adapters.yml endpoint ${JSON.stringify(endpoint)}`);
        // The same adapter named twice for one endpoint and stage hooks it once.
        if (list && !list.some((h) => sameHook(h, hook))) list.push(hook);
      }
    }
  }
  return hooks;
}

function legacyHook(stage: HookStage, method: string, glob: string, what: string): LegacyHook {
  const path = glob.startsWith("/*/") ? glob.slice(2) : glob;
  try {
    parseHookPath(path);
  } catch (error) {
    const reason = (error as Error).message.replace(/^hook pattern "[^"]*": /, "");
    throw new AdapterHostError(
      AdapterHostErrorCode.InvalidHook,
      `${what}: ${reason} (a leading /* stands for the API version; other segments are literals, * for one segment, or {param})`,
      { cause: error },
    );
  }
  return { declaration: { method, path, stage, needsBody: true }, glob };
}

function sameHook(a: LegacyHook, b: LegacyHook): boolean {
  return (
    a.declaration.stage === b.declaration.stage &&
    a.declaration.method === b.declaration.method &&
    a.declaration.path === b.declaration.path
  );
}
