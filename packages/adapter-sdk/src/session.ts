import type { Logger } from "./logger.js";
import type { Adapter } from "./types.js";

/** What an endpoint answers: an HTTP status and a JSON body (a reply, or `{ message }`). */
export interface Answer {
  status: number;
  body: object;
}

/**
 * One adapter as one proxy sees it: the name and config the last handshake settled. `serve()`
 * keeps one per server; the testing helpers make a fresh one per call.
 */
export interface Session {
  readonly adapter: Adapter;
  readonly log: Logger;
  name: string;
  config: Readonly<Record<string, unknown>>;
}

export function createSession(adapter: Adapter, log: Logger): Session {
  return { adapter, log, name: adapter.name, config: {} };
}
