// Legacy (2015) adapters by URL: what to connect to (a LegacyPlan), and connecting without a handshake.
import { connect } from "node:net";
import { HANDSHAKE_DEFAULTS, validateLegacyAdaptersFile } from "@powerstrip/protocol";
import { type HookedAdapter, HttpAdapterTransport } from "@powerstrip/proxy-core";
import { type AdapterLocation, hookEndpoint, parseAdapterUrl } from "./adapter-url.js";
import { AdapterHostError, AdapterHostErrorCode } from "./errors.js";
import { type LegacyHook, legacyFileHooks, parseLegacyHook } from "./legacy.js";

export interface ImportOptions {
  /** Where each adapter of the file listens on this host, by name (`--at NAME=URL`). */
  at?: Record<string, string>;
}

/** A legacy adapter, checked and ready to be registered. */
export interface LegacyPlan {
  name: string;
  url: string;
  location: AdapterLocation;
  priority: number;
  hooks: LegacyHook[];
}

/** The plan for a legacy adapter at `url`, from the hooks as the operator wrote them. */
export function legacyPlan(
  name: string,
  url: string,
  location: AdapterLocation,
  priority: number | undefined,
  hooks: string[] | undefined,
): LegacyPlan {
  return {
    name,
    url,
    location,
    priority: priority ?? HANDSHAKE_DEFAULTS.priority,
    hooks: (hooks ?? []).map(parseLegacyHook),
  };
}

/**
 * The plans for every adapter of a parsed 2015 adapters.yml, hooked where its `endpoints` say and
 * reached where `at` says. Refuses the file if it is invalid, if `at` names an adapter it does not
 * define, or if an adapter not in `at` is not on this host.
 */
export function importPlans(doc: unknown, options: ImportOptions): LegacyPlan[] {
  const result = validateLegacyAdaptersFile(doc);
  if (!result.ok) {
    throw new AdapterHostError(
      AdapterHostErrorCode.InvalidRequest,
      `invalid adapters.yml: ${result.errors.join("; ")}`,
    );
  }
  const file = result.value;
  const at = options.at ?? {};
  const unknown = Object.keys(at).filter((name) => !Object.hasOwn(file.adapters, name));
  if (unknown.length > 0) {
    throw new AdapterHostError(
      AdapterHostErrorCode.InvalidRequest,
      `--at names ${unknown.join(", ")}, which adapters.yml does not define (it defines ${Object.keys(file.adapters).join(", ") || "none"})`,
    );
  }
  const hooks = legacyFileHooks(file);
  const plans: LegacyPlan[] = [];
  const offHost: string[] = [];
  for (const [name, fileUrl] of Object.entries(file.adapters)) {
    const url = at[name] ?? fileUrl;
    let location: AdapterLocation;
    try {
      location = parseAdapterUrl(url);
    } catch (error) {
      if (at[name] !== undefined) throw error;
      offHost.push(name);
      continue;
    }
    plans.push({
      name,
      url,
      location,
      priority: HANDSHAKE_DEFAULTS.priority,
      hooks: hooks.get(name) ?? [],
    });
  }
  if (offHost.length > 0) {
    const first = offHost[0]!;
    throw new AdapterHostError(
      AdapterHostErrorCode.InvalidUrl,
      `adapters.yml: ${offHost.map((n) => `${n} (${file.adapters[n]})`).join(", ")} ${offHost.length === 1 ? "is" : "are"} not on this host; map each to where it listens here with --at, e.g. --at ${first}=http://127.0.0.1:PORT/path or --at ${first}=unix:///path.sock`,
    );
  }
  return plans;
}

/** Checks that a legacy adapter answers and builds its registration. */
export async function connectLegacy(
  plan: LegacyPlan,
  timeoutMs: number,
): Promise<{ adapter: HookedAdapter; globs: Map<HookedAdapter["hooks"][number], string> }> {
  const path = plan.location.kind === "tcp" ? plan.location.path : "/";
  // No handshake in 2015: at least make sure something answers there.
  await probe(plan, timeoutMs);
  const adapter: HookedAdapter = {
    name: plan.name,
    priority: plan.priority,
    failurePolicy: HANDSHAKE_DEFAULTS.failurePolicy,
    timeoutMs: HANDSHAKE_DEFAULTS.timeoutMs,
    protocolVersion: "1",
    hooks: plan.hooks.map((h) => h.declaration),
    transport: new HttpAdapterTransport(hookEndpoint(plan.location, path)),
  };
  return { adapter, globs: new Map(plan.hooks.map((h) => [h.declaration, h.glob])) };
}

/** Connects to a legacy adapter's socket or port, within the handshake deadline (`timeoutMs`). */
function probe(plan: LegacyPlan, timeoutMs: number): Promise<void> {
  const { location } = plan;
  return new Promise((resolve, reject) => {
    const socket =
      location.kind === "unix"
        ? connect({ path: location.socketPath })
        : connect({ host: location.host, port: location.port });
    const fail = (why: string, cause?: unknown) => {
      clearTimeout(timer);
      socket.destroy();
      reject(
        new AdapterHostError(
          AdapterHostErrorCode.Unreachable,
          `cannot reach legacy adapter ${plan.name} at ${plan.url}: ${why}`,
          cause === undefined ? undefined : { cause },
        ),
      );
    };
    const timer = setTimeout(() => fail(`no answer within ${timeoutMs} ms`), timeoutMs);
    socket.once("connect", () => {
      clearTimeout(timer);
      socket.destroy();
      resolve();
    });
    socket.once("error", (error: NodeJS.ErrnoException) => fail(error.code ?? error.message, error));
  });
}
