/** Turns scenario rows into verdicts and a plain-text table. */

/**
 * The two paths a row compares, each a key of the row holding its figure: direct and proxy,
 * unless the row names its own in `paths` (the hooks scenario: unhooked, hooked).
 */
const DEFAULT_PATHS = ["direct", "proxy"];
const rowPaths = (row) => row.paths ?? DEFAULT_PATHS;

/**
 * Adds ratio (second path / first: proxy / direct) and pass/fail against each target to a row.
 * A target is on the ratio (`{ op, ratio }`) or on the difference, in ms (`{ op, addedMs }`: the
 * row then also gets `addedMs`, second − first).
 */
export function evaluate(row) {
  const [base, subject] = rowPaths(row);
  const ratio = row[subject] / row[base];
  const out = { ...row, ratio: Number.isFinite(ratio) ? ratio : null };
  if (row.target?.addedMs != null) {
    const added = row[subject] - row[base];
    out.addedMs = Number.isFinite(added) ? added : null;
    out.targetMet = out.addedMs !== null && compare(out.addedMs, row.target.op, row.target.addedMs);
  } else if (row.target) {
    out.targetMet = out.ratio !== null && compare(out.ratio, row.target.op, row.target.ratio);
  }
  if (row.cpu?.max != null) out.cpuTargetMet = row.cpu.value <= row.cpu.max;
  if (row.rss?.max != null) out.rssTargetMet = row.rss.value <= row.rss.max;
  return out;
}

function compare(value, op, bound) {
  return op === ">=" ? value >= bound : value <= bound;
}

const COLUMNS = [
  ["scenario", (r) => r.scenario],
  ["metric", (r) => r.metric],
  ["direct", (r) => num(r.direct)],
  ["proxy", (r) => num(r.proxy)],
  ["ratio", ratioCell],
  [
    "target (ratio)",
    (r) => (r.target ? `${r.target.op} ${r.target.ratio.toFixed(2)}x ${mark(r.targetMet)}` : ""),
  ],
  ["proxy CPU", (r) => (r.cpu ? cpuCell(r.cpu, r.cpuTargetMet) : "")],
  ["proxy RSS growth", (r) => (r.rss ? rssCell(r.rss, r.rssTargetMet) : "")],
];

/** Columns for rows comparing two paths of their own (`paths`), e.g. unhooked and hooked proxies. */
function pathColumns([base, subject], rows) {
  const columns = [
    ["scenario", (r) => r.scenario],
    ["metric", (r) => r.metric],
    [base, (r) => num(r[base])],
    [subject, (r) => num(r[subject])],
    ["ratio", ratioCell],
    ["target", targetCell],
    [`${subject} proxy CPU`, (r) => (r.cpu ? cpuCell(r.cpu, r.cpuTargetMet, base) : "")],
  ];
  if (rows.some((r) => r.adapterCpu)) {
    columns.push(["adapter CPU", (r) => (r.adapterCpu ? cpuCell(r.adapterCpu) : "")]);
  }
  return columns;
}

/**
 * The rows as plain-text tables: one per pair of paths compared, in the order they first appear
 * (direct/proxy rows in the classic table; rows with `paths` in a table headed by their names).
 */
export function formatTable(rows) {
  const groups = new Map();
  for (const row of rows) {
    const key = rowPaths(row).join("\0");
    if (!groups.has(key)) groups.set(key, []);
    groups.get(key).push(row);
  }
  return [...groups.values()]
    .map((group) => {
      const paths = rowPaths(group[0]);
      const isDefault = paths.join() === DEFAULT_PATHS.join();
      return formatRows(group, isDefault ? COLUMNS : pathColumns(paths, group));
    })
    .join("\n\n");
}

function formatRows(rows, columns) {
  const cells = [columns.map(([title]) => title), ...rows.map((r) => columns.map(([, cell]) => cell(r)))];
  const widths = columns.map((_, i) => Math.max(...cells.map((line) => line[i].length)));
  const numeric = new Set([2, 3, 4]);
  const line = (values) =>
    values
      .map((v, i) => (numeric.has(i) ? v.padStart(widths[i]) : v.padEnd(widths[i])))
      .join("  ")
      .trimEnd();
  return [line(cells[0]), widths.map((w) => "-".repeat(w)).join("  "), ...cells.slice(1).map(line)].join(
    "\n",
  );
}

/** "7 of 9 targets met", counting ratio, CPU and RSS targets alike. */
export function targetSummary(rows) {
  const verdicts = rows
    .flatMap((r) => [r.targetMet, r.cpuTargetMet, r.rssTargetMet])
    .filter((v) => v !== undefined);
  return { met: verdicts.filter(Boolean).length, total: verdicts.length };
}

/** Two decimals, or three when two would round a miss onto its bound (0.798 shown as 0.80 MISS). */
function ratioCell(row) {
  if (row.ratio === null) return "-";
  const short = row.ratio.toFixed(2);
  const ambiguous = row.target?.ratio != null && Number(short) === row.target.ratio;
  return `${row.ratio.toFixed(ambiguous ? 3 : 2)}x`;
}

/** A ratio target (">= 0.60x ok"), or a difference target with the difference ("+0.21 ms <= 0.50 ms ok"). */
function targetCell(row) {
  if (!row.target) return "";
  if (row.target.addedMs == null)
    return `${row.target.op} ${row.target.ratio.toFixed(2)}x ${mark(row.targetMet)}`;
  const added = row.addedMs == null ? "-" : `${row.addedMs >= 0 ? "+" : ""}${num(row.addedMs)}`;
  return `${added} ms ${row.target.op} ${row.target.addedMs.toFixed(2)} ms ${mark(row.targetMet)}`;
}

/** "0.085 ms/req", with its bound, and with the first path's figure when the row has one (`base`). */
function cpuCell(cpu, met, baseName) {
  if (cpu.value == null || !Number.isFinite(cpu.value)) return "-";
  let value = `${num(cpu.value)} ${cpu.unit}`;
  if (baseName && cpu.base != null) value += ` (${baseName} ${num(cpu.base)})`;
  return cpu.max == null ? value : `${value} (<= ${cpu.max} ${mark(met)})`;
}

function rssCell(rss, met) {
  if (!Number.isFinite(rss.value)) return "-";
  return `${rss.value.toFixed(1)} MiB (<= ${rss.max} ${mark(met)})`;
}

function mark(met) {
  return met ? "ok" : "MISS";
}

/** Enough digits to compare, few enough to read: 12345, 123.4, 12.34, 1.234, 0.123. */
export function num(value) {
  if (value == null || !Number.isFinite(value)) return "-";
  const abs = Math.abs(value);
  if (abs >= 1000) return value.toFixed(0);
  if (abs >= 100) return value.toFixed(1);
  if (abs >= 10) return value.toFixed(2);
  return value.toFixed(3);
}
