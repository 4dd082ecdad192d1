import { CREDENTIAL_HEADERS } from "@powerstrip/protocol";
import type { HookedRequest, HookedResponse, Json } from "../hooks/hooked-request.js";

/**
 * Compact lines of what a hook changed, for the trace: `body /HostConfig/Privileged: true → false`,
 * `body +/Labels/team: "a"`, `body -/Env`, `query +all=1`, `header -x-foo`, `status 200 → 403`.
 * Built only when a watcher asks for them. Values of credential headers are never shown: a trace
 * watcher must not learn what only an adapter with the credentials grant may see.
 */

/** Long values are cut: a line says what changed, not the whole document. */
const MAX_VALUE_CHARS = 80;
/** A body rewritten wholesale can differ everywhere: the first lines say enough. */
const MAX_LINES = 40;

export function requestChanges(before: HookedRequest, after: HookedRequest): string[] {
  const lines: string[] = [];
  if (before.method !== after.method) lines.push(`method ${before.method} → ${after.method}`);
  if (before.path !== after.path) lines.push(`path ${before.path} → ${after.path}`);
  if (before.query !== after.query) pairChanges("query", before.query, after.query, "=", lines);
  if (before.headers !== after.headers)
    pairChanges("header", headerPairs(before.headers), headerPairs(after.headers), ": ", lines);
  if (before.body !== after.body) jsonChanges("body", "", before.body, after.body, lines);
  return capped(lines);
}

export function responseChanges(before: HookedResponse, after: HookedResponse): string[] {
  const lines: string[] = [];
  if (before.status !== after.status) lines.push(`status ${before.status} → ${after.status}`);
  if (before.headers !== after.headers)
    pairChanges("header", headerPairs(before.headers), headerPairs(after.headers), ": ", lines);
  if (before.body !== after.body) jsonChanges("body", "", before.body, after.body, lines);
  return capped(lines);
}

function capped(lines: string[]): string[] {
  if (lines.length <= MAX_LINES) return lines;
  return [...lines.slice(0, MAX_LINES), `… ${lines.length - MAX_LINES} more`];
}

const REDACTED = "(redacted)";

function headerPairs(headers: string[]): [string, string][] {
  const pairs: [string, string][] = [];
  for (let i = 0; i < headers.length; i += 2) pairs.push([headers[i]!.toLowerCase(), headers[i + 1]!]);
  return pairs;
}

/**
 * Pairs are compared as multisets of `key<sep>value`: what went is `-`, what came is `+`. Compared
 * with their values, shown with credential values masked (a changed secret still shows as -/+).
 */
function pairChanges(
  what: string,
  before: [string, string][],
  after: [string, string][],
  separator: string,
  lines: string[],
): void {
  const item = ([k, v]: [string, string]) => `${k}${separator}${v}`;
  const shown = ([k, v]: [string, string]) =>
    `${k}${separator}${what === "header" && CREDENTIAL_HEADERS.includes(k) ? REDACTED : v}`;
  const remaining = [...after];
  for (const pair of before) {
    const at = remaining.findIndex((other) => item(other) === item(pair));
    if (at === -1) lines.push(`${what} -${shown(pair)}`);
    else remaining.splice(at, 1);
  }
  for (const pair of remaining) lines.push(`${what} +${shown(pair)}`);
}

function jsonChanges(
  what: string,
  pointer: string,
  before: Json | undefined,
  after: Json | undefined,
  lines: string[],
): void {
  if (lines.length > MAX_LINES) return;
  if (before === after) return;
  if (isObject(before) && isObject(after)) {
    for (const key of Object.keys(before)) {
      const path = `${pointer}/${escapePointer(key)}`;
      if (!Object.hasOwn(after, key)) lines.push(`${what} -${path}`);
      else jsonChanges(what, path, before[key], after[key], lines);
    }
    for (const key of Object.keys(after)) {
      if (!Object.hasOwn(before, key))
        lines.push(`${what} +${pointer}/${escapePointer(key)}: ${show(after[key])}`);
    }
    return;
  }
  if (Array.isArray(before) && Array.isArray(after) && before.length === after.length) {
    for (let i = 0; i < before.length; i++) jsonChanges(what, `${pointer}/${i}`, before[i], after[i], lines);
    return;
  }
  if (JSON.stringify(before) === JSON.stringify(after)) return;
  const at = pointer === "" ? "" : `${pointer}`;
  if (before === undefined) lines.push(`${what} +${at || "/"}: ${show(after)}`);
  else if (after === undefined) lines.push(`${what} -${at || "/"}`);
  else lines.push(`${what} ${at || "/"}: ${show(before)} → ${show(after)}`);
}

function isObject(value: Json | undefined): value is { [key: string]: Json } {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function escapePointer(key: string): string {
  return key.replace(/~/g, "~0").replace(/\//g, "~1");
}

function show(value: Json | undefined): string {
  const text = JSON.stringify(value) ?? "undefined";
  return text.length > MAX_VALUE_CHARS ? `${text.slice(0, MAX_VALUE_CHARS - 1)}…` : text;
}
