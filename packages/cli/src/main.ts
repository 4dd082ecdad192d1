import { exitQuietlyOnEpipe } from "./epipe.js";
import { run } from "./run.js";

exitQuietlyOnEpipe();

// Exit through exitCode, not process.exit(), so piped output is flushed first.
process.exitCode = await run(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
});
