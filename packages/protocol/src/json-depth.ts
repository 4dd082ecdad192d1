/**
 * How deeply JSON may nest in the messages Powerstrip handles. Docker's own bodies nest a dozen
 * levels; a limit far above that keeps recursive code (JSON.stringify, structuredClone) from
 * running out of stack on a hostile document, which a depth of a few thousand does.
 */
export const MAX_JSON_DEPTH = 1000;

/**
 * True when `value` nests arrays and objects more than `limit` levels deep (a scalar is depth 0,
 * `[]` and `{}` are 1). Iterative, and it stops at the first branch over the limit.
 */
export function exceedsJsonDepth(value: unknown, limit: number): boolean {
  const pending: [unknown, number][] = [[value, 0]];
  for (let next = pending.pop(); next !== undefined; next = pending.pop()) {
    const [node, depth] = next;
    if (typeof node !== "object" || node === null) continue;
    if (depth + 1 > limit) return true;
    for (const child of Array.isArray(node) ? node : Object.values(node)) {
      if (typeof child === "object" && child !== null) pending.push([child, depth + 1]);
    }
  }
  return false;
}
