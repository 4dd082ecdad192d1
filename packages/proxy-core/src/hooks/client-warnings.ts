import { matchHookPath, parseHookPath } from "@powerstrip/protocol";
import type { HookedResponse, Json } from "./hooked-request.js";

/**
 * Adapters' warnings reach the Docker client where Docker's own answer has a `Warnings` array,
 * which clients show (the docker CLI prints each as `WARNING: …`). Elsewhere they are only in the
 * trace and the logs.
 */
const WARNINGS_ENDPOINTS: { method: string; pattern: { segments: ReturnType<typeof parseHookPath> } }[] = [
  { method: "POST", pattern: { segments: parseHookPath("/containers/create") } },
  { method: "POST", pattern: { segments: parseHookPath("/containers/{id}/update") } },
  { method: "GET", pattern: { segments: parseHookPath("/info") } },
];

/** True when the answer to this call carries a `Warnings` array the client shows. */
export function carriesWarnings(method: string, path: string): boolean {
  return WARNINGS_ENDPOINTS.some((e) => e.method === method && matchHookPath(e.pattern, path) !== null);
}

/** Adds warnings to a successful JSON answer's `Warnings` (after Docker's own); false when it has no place for them. */
export function addWarnings(response: HookedResponse, warnings: readonly string[]): boolean {
  if (warnings.length === 0) return false;
  if (response.status < 200 || response.status > 299) return false;
  const body = response.body;
  if (typeof body !== "object" || body === null || Array.isArray(body)) return false;
  const own = Array.isArray(body.Warnings) ? body.Warnings : [];
  response.body = { ...body, Warnings: [...own, ...(warnings as Json[])] };
  response.changed = true;
  return true;
}
