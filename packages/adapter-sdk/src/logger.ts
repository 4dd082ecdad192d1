/** Where the SDK reports what happens: one line per event. Pass your own to `serve({ logger })`. */
export interface Logger {
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

/** Lines on stderr: `2025-06-01T09:30:00.000Z label-injector info: listening on unix:///...`. */
export function stderrLogger(name: () => string): Logger {
  const line = (level: string) => (message: string) => {
    process.stderr.write(`${new Date().toISOString()} ${name()} ${level}: ${message}\n`);
  };
  return { info: line("info"), warn: line("warn"), error: line("error") };
}

export const silentLogger: Logger = { info() {}, warn() {}, error() {} };
