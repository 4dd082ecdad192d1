import type {
  ClientIdentity,
  JsonPatch,
  PostHookReply,
  PreHookDeny,
  PreHookReply,
  QueryEdits,
  RequestBodyOmitted,
  RequestHeaderEdits,
  ResponseBodyOmitted,
  ResponseHeaderEdits,
} from "@powerstrip/protocol";
import type { Logger } from "./logger.js";

/** The methods a hook key may name; `*` hooks every method. A typo is a compile error. */
export type HttpMethod = "GET" | "HEAD" | "POST" | "PUT" | "DELETE" | "PATCH" | "OPTIONS" | "*";

/** A hook key: a method, one space, a path pattern — `"POST /containers/{id}/start"`. */
export type HookKey = `${HttpMethod} /${string}`;

type ParamNames<Path extends string> = Path extends `${string}{${infer Name}}${infer Rest}`
  ? Name | ParamNames<Rest>
  : never;

/** `"POST /containers/{id}/start"` → `{ readonly id: string }`. */
export type PathParams<Key extends string> = Key extends `${string} ${infer Path}`
  ? { readonly [Name in ParamNames<Path>]: string }
  : Readonly<Record<string, string>>;

/**
 * A JSON body as the client or Docker sent it: whatever JSON it holds, so `ctx.body.Image` reads
 * naturally. `undefined` when the call carried no body.
 */
// biome-ignore lint/suspicious/noExplicitAny: bodies are arbitrary JSON; hooks narrow them as they read them.
export type JsonBody = any;

/** What every hook gets. */
interface BaseContext<Key extends string> {
  /** The name the proxy knows this adapter by (the declared one, or the operator's override). */
  readonly adapter: string;
  /** The hook key that matched, as declared. */
  readonly hook: Key;
  /** The same for every hook call caused by one client request. */
  readonly requestId: string;
  /** True when the operator loaded this adapter in shadow mode: what it returns is recorded, not applied. */
  readonly shadow: boolean;
  /**
   * Who made the call: `transport` "unix" (with `uid`, `gid`, `pid` where the platform tells
   * them), "tcp" (loopback, with `address`) or "tls" (with the verified client `certificate`:
   * `commonName`, `subject`, `issuer`, `fingerprint256`). Undefined when the proxy did not say.
   */
  readonly client: ClientIdentity | undefined;
  /** `"1.41"` when the client wrote `/v1.41/...`, else null. */
  readonly apiVersion: string | null;
  /** The `{param}` segments of the key, percent-decoded. */
  readonly params: PathParams<Key>;
  /** The operator's configuration from the handshake; `{}` when none was given. */
  readonly config: Readonly<Record<string, unknown>>;
  readonly log: Logger;
}

/** The request as a hook sees it. */
export interface HookRequestView<Key extends string = string> {
  readonly method: string;
  /** Without the `/vX.Y` prefix and without the query. */
  readonly path: string;
  readonly apiVersion: string | null;
  readonly params: PathParams<Key>;
  /** A string per key, or an array when the key repeats. */
  readonly query: Readonly<Record<string, string | string[]>>;
  /**
   * Lower-case names; repeated headers joined with ", ". Authorization, X-Registry-Auth and
   * X-Registry-Config are here only when the adapter declares `credentials: true` and the
   * operator loaded it with `--allow-credentials`.
   */
  readonly headers: Readonly<Record<string, string>>;
  readonly body: JsonBody;
  /** Why a body that exists is not here: "binary", "too-large" or "not-needed". */
  readonly bodyOmitted: RequestBodyOmitted | undefined;
}

export interface PreHookContext<Key extends string = string> extends BaseContext<Key>, HookRequestView<Key> {
  readonly stage: "pre";
  /** A reply that stops the request: the client gets `status` and `{"message": message}`. Return it. */
  deny(status: number, message: string): PreHookDeny;
}

export interface HookResponseView {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: JsonBody;
  /** Why a body that exists is not here: "binary", "too-large", "not-needed" or "streamed". */
  readonly bodyOmitted: ResponseBodyOmitted | undefined;
  /** True for streamed and upgraded responses: there is never a body, only status and headers. */
  readonly streamed: boolean;
}

export interface PostHookContext<Key extends string = string> extends BaseContext<Key> {
  readonly stage: "post";
  /** The request as Docker received it (after every pre-hook). */
  readonly request: HookRequestView<Key>;
  /** Docker's response, as the post-hooks before this one left it. */
  readonly response: HookResponseView;
}

/** What a pre-hook returns to rewrite the request. Nothing (or only warnings) lets it pass. */
export interface PreHookRewriteResult {
  /** Replaces the JSON body. */
  body?: unknown;
  /** An RFC 6902 JSON Patch applied to the body (never together with `body`). */
  patch?: JsonPatch;
  query?: QueryEdits;
  /**
   * Header edits; names are case-insensitive here (the SDK lower-cases them). Only content-type,
   * user-agent and x-meta-* may be edited, and the credential headers by an adapter that declares
   * `credentials: true` (and that the operator allowed).
   */
  headers?: RequestHeaderEdits;
  /** A new path, without the `/vX.Y` prefix. */
  path?: string;
  warnings?: string[];
}

/** What a post-hook returns to rewrite the response. Nothing (or only warnings) passes it on. */
export interface PostHookRewriteResult {
  status?: number;
  /** Header edits; any header but the framing ones (content-length, transfer-encoding, connection…). */
  headers?: ResponseHeaderEdits;
  body?: unknown;
  patch?: JsonPatch;
  warnings?: string[];
}

/**
 * Nothing allows (pre) or passes (post); a rewrite result rewrites; `ctx.deny(...)`, or any
 * protocol reply (an object with `action`), is sent as is.
 */
// biome-ignore lint/suspicious/noConfusingVoidType: a hook that returns nothing has type void, and must type-check.
export type PreHookResult = void | undefined | PreHookRewriteResult | PreHookReply;
// biome-ignore lint/suspicious/noConfusingVoidType: as above.
export type PostHookResult = void | undefined | PostHookRewriteResult | PostHookReply;

/** The stages a hook key implements: implementing a stage is subscribing to it. */
export interface HookHandlers<Key extends string = string> {
  pre?(ctx: PreHookContext<Key>): PreHookResult | Promise<PreHookResult>;
  post?(ctx: PostHookContext<Key>): PostHookResult | Promise<PostHookResult>;
  /** Whether calls carry JSON bodies; false spares the proxy buffering them. Default true. */
  needsBody?: boolean;
}

export interface AdapterDefinition<Keys extends HookKey = HookKey> {
  /** `^[a-z0-9][a-z0-9_.-]{0,62}$`; the operator may override it when loading. */
  name: string;
  /** The adapter's own release, shown by `powerstrip ls`. */
  version?: string;
  /** 0–10000, default 1000; lower runs first on the way in, last on the way out. */
  priority?: number;
  /** "fail" (default): a failure of this adapter fails the client's call; "ignore": it is skipped. */
  failurePolicy?: "fail" | "ignore";
  /** 1–60000 ms, default 2000: how long the proxy waits for each hook call. */
  timeoutMs?: number;
  /**
   * true when the hooks need the client's credential headers (Authorization, X-Registry-Auth,
   * X-Registry-Config), to read or to replace them. The proxy sends them only if the operator also
   * allows it (`powerstrip load --allow-credentials`); `powerstrip ls` shows `withheld` otherwise.
   */
  credentials?: boolean;
  /** A JSON Schema for the operator's config; a config that does not fit refuses the handshake. */
  configSchema?: Record<string, unknown>;
  /** Called at each handshake with the (validated) config; throwing refuses the handshake. */
  configure?(config: Readonly<Record<string, unknown>>, info: { name: string }): void | Promise<void>;
  hooks: { [Key in Keys]: HookHandlers<Key> };
}

/** One protocol hook the adapter declares: a key × an implemented stage. */
export interface DeclaredHook {
  readonly key: HookKey;
  readonly method: string;
  readonly path: string;
  readonly stage: "pre" | "post";
  readonly needsBody: boolean;
}

/** What `defineAdapter` returns: a checked definition, ready for `serve()` and the testing helpers. */
export interface Adapter {
  readonly name: string;
  readonly definition: AdapterDefinition;
  /** In declaration order: each key's pre, then its post. */
  readonly hooks: readonly DeclaredHook[];
}
