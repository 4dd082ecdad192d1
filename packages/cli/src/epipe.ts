/**
 * `powerstrip ls | head -1`: when the reader goes away, stop quietly as other commands do on
 * SIGPIPE, instead of dying with an EPIPE stack trace.
 */
export function exitQuietlyOnEpipe(): void {
  for (const stream of [process.stdout, process.stderr]) {
    stream.on("error", (error: NodeJS.ErrnoException) => {
      if (error.code === "EPIPE") process.exit(process.exitCode ?? 0);
      throw error;
    });
  }
}
