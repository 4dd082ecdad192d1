import packageJson from "../package.json" with { type: "json" };
import { exitQuietlyOnEpipe } from "./epipe.js";
import { run } from "./run.js";

// docker-powerstrip, the Docker CLI plugin. The docker CLI asks every plugin for its metadata
// (`docker-powerstrip docker-cli-plugin-metadata`) to list it under `docker --help`, runs
// `docker powerstrip ARGS…` as `docker-powerstrip powerstrip ARGS…` and `docker help powerstrip`
// as `docker-powerstrip help powerstrip`. Run by hand, it takes ARGS… as `powerstrip` does.

/** The docker CLI's plugin metadata (schema 0.1.0). */
const METADATA = {
  SchemaVersion: "0.1.0",
  Vendor: "Powerstrip",
  Version: packageJson.version,
  ShortDescription: "Load and manage Powerstrip adapters",
  URL: "https://github.com/powerstrip/powerstrip",
};

/** The `powerstrip` arguments in what the docker CLI passed. */
function powerstripArgs(argv: string[]): string[] {
  if (argv[0] === "powerstrip") return argv.slice(1);
  if (argv[0] === "help" && argv[1] === "powerstrip") return ["--help"];
  return argv;
}

exitQuietlyOnEpipe();
const argv = process.argv.slice(2);
if (argv[0] === "docker-cli-plugin-metadata") {
  process.stdout.write(`${JSON.stringify(METADATA, null, 2)}\n`);
} else {
  // Exit through exitCode, not process.exit(), so piped output is flushed first.
  process.exitCode = await run(powerstripArgs(argv), {
    stdout: process.stdout,
    stderr: process.stderr,
    env: process.env,
  });
}
