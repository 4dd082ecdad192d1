/** Turns scenario rows into verdicts and a plain-text table. */

/** Adds ratio (proxy / direct) and pass/fail against each target to a row. */
export function evaluate(row) {
  const ratio = row.proxy / row.direct;
  const out = { ...row, ratio: Number.isFinite(ratio) ? ratio : null };
  if (row.target) out.targetMet = out.ratio !== null && compare(out.ratio, row.target.op, row.target.ratio);
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

export function formatTable(rows) {
  const cells = [COLUMNS.map(([title]) => title), ...rows.map((r) => COLUMNS.map(([, cell]) => cell(r)))];
  const widths = COLUMNS.map((_, i) => Math.max(...cells.map((line) => line[i].length)));
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
  const ambiguous = row.target && Number(short) === row.target.ratio;
  return `${row.ratio.toFixed(ambiguous ? 3 : 2)}x`;
}

function cpuCell(cpu, met) {
  if (cpu.value == null || !Number.isFinite(cpu.value)) return "-";
  const value = `${num(cpu.value)} ${cpu.unit}`;
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
