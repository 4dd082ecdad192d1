import { HOP_BY_HOP_HEADERS } from "./constants.js";

/**
 * The `query` map of a hook call, built from the raw query string (without `?`) exactly as
 * application/x-www-form-urlencoded is parsed (URLSearchParams; `+` is a space, as in the engine):
 * a key seen once maps to a string, a repeated key to an array of its values in order.
 */
export function buildQueryMap(query: string): Record<string, string | string[]> {
  const values = new Map<string, string[]>();
  for (const [key, value] of new URLSearchParams(query)) {
    const list = values.get(key);
    if (list === undefined) values.set(key, [value]);
    else list.push(value);
  }
  // fromEntries defines own properties, so keys like "__proto__" stay plain data.
  return Object.fromEntries([...values].map(([key, list]) => [key, list.length === 1 ? list[0]! : list]));
}

/**
 * The `headers` map of a hook call: names lower-cased, a repeated header joined with ", " in
 * order, hop-by-hop headers (and those `Connection` names) left out. Takes Node's flat
 * `rawHeaders` list, or [name, value] pairs.
 */
export function buildHeaderMap(
  raw: readonly string[] | Iterable<readonly [string, string]>,
): Record<string, string> {
  const joined = new Map<string, string>();
  for (const [name, value] of pairsOf(raw)) {
    const key = name.toLowerCase();
    const previous = joined.get(key);
    joined.set(key, previous === undefined ? value : `${previous}, ${value}`);
  }
  const dropped = new Set(HOP_BY_HOP_HEADERS);
  for (const token of (joined.get("connection") ?? "").split(",")) dropped.add(token.trim().toLowerCase());
  for (const name of dropped) joined.delete(name);
  return Object.fromEntries(joined);
}

function* pairsOf(
  raw: readonly string[] | Iterable<readonly [string, string]>,
): Iterable<readonly [string, string]> {
  if (Array.isArray(raw) && raw.every((item) => typeof item === "string")) {
    for (let i = 0; i + 1 < raw.length; i += 2) yield [raw[i] as string, raw[i + 1] as string];
    return;
  }
  yield* raw as Iterable<readonly [string, string]>;
}
