import { runLoader } from "@powerstrip/adapter-loader";

// The environment comes from `powerstrip load` (the adapter's name and socket) and the image
// (POWERSTRIP_COMPOSE_FILE, set by powerstrip/adapter-loader's Dockerfile).
const env = process.env;
const code = await runLoader({
  composeFile: env.POWERSTRIP_COMPOSE_FILE ?? "/powerstrip/compose/docker-compose.yml",
  name: env.POWERSTRIP_ADAPTER_NAME ?? "adapter",
  socketPath: env.POWERSTRIP_ADAPTER_SOCKET ?? "/run/powerstrip/adapter.sock",
  dockerSocket: "/var/run/docker.sock",
});
process.exit(code);
