import type { HookCallRecord, Observers } from "@powerstrip/proxy-core";
import { type Level, type Logger, pino } from "pino";

export const LOG_FORMATS = ["text", "json"] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];
export const LOG_LEVELS = ["debug", "info", "warn", "error"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** Where log lines go: stderr, or a test's collector. */
export interface LogSink {
  write(text: string): unknown;
}

/**
 * The daemon's logger (pino) on stderr. `json`: one pino JSON object per line, for log shippers.
 * `text`: `powerstrip-proxy: <message> key=value…`, as the daemon has always printed (lines people
 * and supervisors read, e.g. `listening on`); warn and above say their level.
 */
export function createLogger(options: { format: LogFormat; level: LogLevel; sink?: LogSink }): Logger {
  const sink = options.sink ?? process.stderr;
  const base = { level: options.level, base: { name: "powerstrip-proxy" } };
  if (options.format === "json") return pino(base, { write: (line: string) => sink.write(line) });
  return pino(base, { write: (line: string) => sink.write(textLine(line)) });
}

/**
 * The daemon's lifecycle lines (`listening on …`, shutting down), written at info whatever
 * --log-level: supervisors and scripts wait for them, and an operator who asked for warnings only
 * still needs to know the daemon is ready or going.
 */
export function lifecycleLogger(logger: Logger): Logger {
  return logger.isLevelEnabled("info") ? logger : logger.child({}, { level: "info" });
}

const LEVEL_NAMES: Record<number, string> = {
  10: "trace",
  20: "debug",
  30: "info",
  40: "warn",
  50: "error",
  60: "fatal",
};
const OMITTED = new Set(["level", "time", "pid", "hostname", "name", "msg"]);

function textLine(json: string): string {
  const record = JSON.parse(json) as Record<string, unknown>;
  const level = LEVEL_NAMES[record.level as number] ?? "info";
  const fields = Object.entries(record)
    .filter(([key, value]) => !OMITTED.has(key) && value !== undefined)
    .map(
      ([key, value]) =>
        `${key}=${typeof value === "string" && !/\s|"/.test(value) ? value : JSON.stringify(value)}`,
    );
  const prefix = level === "info" ? "" : `${level}: `;
  return `powerstrip-proxy: ${prefix}${String(record.msg ?? "")}${fields.length > 0 ? ` ${fields.join(" ")}` : ""}\n`;
}

/** The level a hook call's outcome is logged at: failures warn, denials and rewrites inform. */
export function hookCallLevel(record: HookCallRecord): Level {
  switch (record.decision) {
    case "failed":
    case "ignored-failure":
    case "would-fail":
      return "warn";
    case "deny":
    case "would-deny":
    case "rewrite":
    case "would-rewrite":
      return "info";
    default:
      return record.warnings !== undefined && record.warnings.length > 0 ? "info" : "debug";
  }
}

/**
 * Logs hooked calls' outcomes (with requestId, as in the trace and the adapter's hook call), and
 * at debug every pass-through exchange. Observes nothing the level would drop.
 */
export function logDataPath(logger: Logger, observers: Observers): () => void {
  const detachers: (() => void)[] = [];
  detachers.push(
    observers.add({
      hookCall(record) {
        const level = hookCallLevel(record);
        if (!logger.isLevelEnabled(level)) return;
        const fields: Record<string, unknown> = {
          requestId: record.requestId,
          adapter: record.adapter,
          stage: record.stage,
          decision: record.decision,
          method: record.method,
          path: record.path,
          durationMs: Math.round(record.durationMs * 1000) / 1000,
        };
        if (record.shadow) fields.shadow = true;
        if (record.status !== undefined) fields.status = record.status;
        if (record.message !== undefined) fields.message = record.message;
        if (record.failure !== undefined)
          fields.failure = `${record.failure.kind}: ${record.failure.message}`;
        if (record.warnings !== undefined && record.warnings.length > 0) fields.warnings = record.warnings;
        logger[level](fields, `hook ${record.decision}`);
      },
    }),
  );
  // Pass-through calls are many: only a debug logger hears of them.
  if (logger.isLevelEnabled("debug")) {
    detachers.push(
      observers.add({
        exchange(record) {
          logger.debug(
            {
              // The same id as the request's hook lines, trace events and hook calls (issue #7).
              requestId: record.requestId,
              method: record.method,
              path: record.path,
              status: record.status,
              hooked: record.hooked,
              bytesIn: record.bytesIn,
              bytesOut: record.bytesOut,
            },
            "exchange",
          );
        },
        wantsRequestIds: () => true,
      }),
    );
  }
  return () => {
    for (const detach of detachers) detach();
  };
}
