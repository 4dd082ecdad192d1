import type { AdapterInfo } from "@powerstrip/protocol";

/** Columns padded to their widest cell, three spaces apart, as `docker ps` prints them. */
export function formatTable(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) =>
    cells
      .map((cell, i) => (i === cells.length - 1 ? cell : cell.padEnd(widths[i]!)))
      .join("   ")
      .trimEnd();
  return `${[header, ...rows].map(line).join("\n")}\n`;
}

/**
 * `powerstrip ls`: NAME, SOURCE (the image or URL), STATE (`ready (shadow)` in shadow mode), HOOKS
 * (how many), CREDENTIALS when an adapter asks for them, SINCE (how long ago), and ERROR when an
 * adapter failed.
 */
export function formatAdapterTable(adapters: AdapterInfo[], now: Date): string {
  const errors = adapters.some((a) => a.error !== undefined);
  // Only when some adapter asks for credentials: most hosts never see the column.
  const credentials = adapters.some((a) => a.credentials !== undefined && a.credentials !== "none");
  return formatTable(
    [
      "NAME",
      "SOURCE",
      "STATE",
      "HOOKS",
      ...(credentials ? ["CREDENTIALS"] : []),
      "SINCE",
      ...(errors ? ["ERROR"] : []),
    ],
    adapters.map((a) => [
      a.name,
      a.source,
      a.shadow ? `${a.state} (shadow)` : a.state,
      String(a.hooks.length),
      ...(credentials ? [a.credentials ?? ""] : []),
      ago(a.since, now),
      ...(errors ? [a.error ?? ""] : []),
    ]),
  );
}

/** `powerstrip inspect NAME`: every field, one per line, and the hooks in declaration order. */
export function formatAdapter(adapter: AdapterInfo, now: Date): string {
  const fields: [string, string][] = [
    ["Name", adapter.name],
    ["Source", adapter.source],
    ["Kind", adapter.kind],
  ];
  if (adapter.container !== undefined) {
    fields.push(["Container", `${adapter.container.name} (${adapter.container.id.slice(0, 12)})`]);
  }
  fields.push(["State", `${adapter.state} since ${adapter.since} (${ago(adapter.since, now)})`]);
  if (adapter.error !== undefined) fields.push(["Error", adapter.error]);
  if (adapter.shadow) fields.push(["Mode", "shadow (hooks run, their effects are recorded, not applied)"]);
  if (adapter.dockerSocket)
    fields.push(["Docker socket", "granted (--allow-docker): it controls the engine"]);
  fields.push(
    ["Protocol", adapter.protocolVersion === "1" ? "1 (legacy, 2015)" : adapter.protocolVersion],
    ["Priority", String(adapter.priority)],
    ["Failure policy", adapter.failurePolicy],
    ["Timeout", `${adapter.timeoutMs} ms`],
    ...(adapter.credentials === undefined
      ? []
      : [["Credentials", credentialsText(adapter.credentials)] as [string, string]]),
    ["Hooks", adapter.hooks.length === 0 ? "none" : ""],
  );
  const width = Math.max(...fields.map(([label]) => label.length)) + 3;
  const lines = fields.map(([label, value]) => `${`${label}:`.padEnd(width)}${value}`.trimEnd());
  for (const hook of adapter.hooks) lines.push(`  ${hook.stage.padEnd(5)}${hook.method} ${hook.path}`);
  return `${lines.join("\n")}\n`;
}

function credentialsText(credentials: NonNullable<AdapterInfo["credentials"]>): string {
  if (credentials === "sent") return "sent (it asks for them, and the operator allowed it)";
  if (credentials === "withheld")
    return "withheld (it asks for them; load it with --allow-credentials to send them)";
  return "none (it does not ask for them)";
}

/** `2025-06-01T09:30:00Z` → `3 minutes ago`, relative to `now`. */
export function ago(since: string, now: Date): string {
  const seconds = Math.max(0, Math.floor((now.getTime() - Date.parse(since)) / 1000));
  if (Number.isNaN(seconds)) return since;
  if (seconds < 1) return "just now";
  const units: [number, string][] = [
    [86400 * 2, "day"],
    [3600 * 2, "hour"],
    [60 * 2, "minute"],
  ];
  const divisors: Record<string, number> = { day: 86400, hour: 3600, minute: 60 };
  for (const [threshold, unit] of units) {
    if (seconds >= threshold) return `${Math.floor(seconds / divisors[unit]!)} ${unit}s ago`;
  }
  if (seconds >= 60) return "about a minute ago";
  return seconds === 1 ? "1 second ago" : `${seconds} seconds ago`;
}
