import {
  matchHookPath,
  type PatternSegment,
  parseHookPath,
  routedPath,
  splitRequestTarget,
} from "@powerstrip/protocol";

export type HookStage = "pre" | "post";
export type FailurePolicy = "fail" | "ignore";

/** How the proxy reaches one adapter: it sends a message and gets the parsed reply (or throws). */
export interface AdapterTransport {
  call(message: unknown, options: { timeoutMs: number }): Promise<unknown>;
  close(): void;
}

export interface HookDeclaration {
  method: string;
  path: string;
  stage: HookStage;
  needsBody: boolean;
}

/** An adapter as the data path knows it once its handshake is done. */
export interface HookedAdapter {
  name: string;
  priority: number;
  failurePolicy: FailurePolicy;
  timeoutMs: number;
  /** "2" for the current protocol, "1" for 2015 adapters. */
  protocolVersion: "1" | "2";
  hooks: HookDeclaration[];
  transport: AdapterTransport;
  /** Shadow mode: its hooks are called off the request's path and their replies have no effect. */
  shadow?: boolean;
  /**
   * Its hook calls carry the client's credential headers (CREDENTIAL_HEADERS), and its rewrites may
   * edit them: it declared `credentials` and the operator allowed it. Absent: neither.
   */
  receivesCredentials?: boolean;
}

/** One hook that applies to one request. */
export interface MatchedHook {
  adapter: HookedAdapter;
  hook: HookDeclaration;
  /** `METHOD /path` as declared. */
  pattern: string;
  params: Record<string, string>;
}

/** The hooks a request goes through: pre in (priority, name) order, post in the reverse. */
export interface HookChain {
  pre: MatchedHook[];
  post: MatchedHook[];
  path: string;
  apiVersion: string | null;
  query: string;
}

interface CompiledHook {
  adapter: HookedAdapter;
  hook: HookDeclaration;
  segments: { segments: readonly PatternSegment[] };
}

/**
 * The live set of hooks. Swapped whole on every change, so a request matched against one
 * version keeps it, and the hot path reads a plain array with no locking.
 */
export class HookRegistry {
  private adapters = new Map<string, HookedAdapter>();
  /** In (priority, name) order. */
  private compiled: CompiledHook[] = [];
  /** Methods some hook listens to; `*` when a hook takes every method. */
  private methods = new Set<string>();
  private inFlight = new Map<string, { count: number; drained: (() => void)[] }>();

  register(adapter: HookedAdapter): void {
    if (this.adapters.has(adapter.name))
      throw new Error(`an adapter named ${adapter.name} is already loaded`);
    const next = new Map(this.adapters);
    next.set(adapter.name, adapter);
    this.rebuild(next);
  }

  /** Takes an adapter out of the chain; resolves when the calls already routed to it have finished. */
  async unregister(name: string): Promise<HookedAdapter | undefined> {
    const adapter = this.adapters.get(name);
    if (!adapter) return undefined;
    const next = new Map(this.adapters);
    next.delete(name);
    this.rebuild(next);
    const flight = this.inFlight.get(name);
    if (flight && flight.count > 0) await new Promise<void>((resolve) => flight.drained.push(resolve));
    return adapter;
  }

  list(): HookedAdapter[] {
    return [...this.adapters.values()];
  }

  get(name: string): HookedAdapter | undefined {
    return this.adapters.get(name);
  }

  /** The hooks for a request, or null: the common, unhooked case costs one Set lookup. */
  match(method: string, target: string): HookChain | null {
    if (this.compiled.length === 0) return null;
    if (!this.methods.has(method) && !this.methods.has("*")) return null;
    const { path, apiVersion, query } = splitRequestTarget(target);
    // The engine decodes every escape before it routes (`/containers/%63reate` is create): a hook
    // runs when the path as sent or as the engine routes it matches, so no spelling gets past it.
    const routed = path.includes("%") ? routedPath(target.split("?", 1)[0]!) : null;
    const pre: MatchedHook[] = [];
    const post: MatchedHook[] = [];
    for (const { adapter, hook, segments } of this.compiled) {
      if (hook.method !== method && hook.method !== "*") continue;
      const params =
        matchHookPath(segments, path) ??
        (routed === null ? null : matchHookPath(segments, routed.path, { decoded: true }));
      if (params === null) continue;
      const matched: MatchedHook = { adapter, hook, pattern: `${hook.method} ${hook.path}`, params };
      if (hook.stage === "pre") pre.push(matched);
      else post.push(matched);
    }
    if (pre.length === 0 && post.length === 0) return null;
    return { pre, post: post.reverse(), path, apiVersion, query };
  }

  /** Counts a call routed to an adapter so unregister can wait for it. */
  enter(name: string): void {
    const flight = this.inFlight.get(name) ?? { count: 0, drained: [] };
    flight.count++;
    this.inFlight.set(name, flight);
  }

  leave(name: string): void {
    const flight = this.inFlight.get(name);
    if (!flight) return;
    flight.count--;
    if (flight.count === 0) {
      this.inFlight.delete(name);
      for (const resolve of flight.drained) resolve();
    }
  }

  private rebuild(adapters: Map<string, HookedAdapter>): void {
    const ordered = [...adapters.values()].sort(byPriorityThenName);
    const compiled: CompiledHook[] = [];
    const methods = new Set<string>();
    for (const adapter of ordered) {
      for (const hook of adapter.hooks) {
        compiled.push({ adapter, hook, segments: { segments: parseHookPath(hook.path) } });
        methods.add(hook.method);
      }
    }
    this.adapters = adapters;
    this.compiled = compiled;
    this.methods = methods;
  }
}

export function byPriorityThenName(a: HookedAdapter, b: HookedAdapter): number {
  return a.priority - b.priority || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
}
