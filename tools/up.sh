#!/usr/bin/env bash
# One command from a fresh Debian machine to a running proxy: Docker, dependencies, build, run.
# Flags are passed to powerstrip-proxy, e.g. `npm run up -- --listen unix:///tmp/p.sock`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/docker/ensure-docker.sh
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi
npm run build --silent
exec apps/proxy/bin/powerstrip-proxy.js "$@"  # its shebang gives node its flags
