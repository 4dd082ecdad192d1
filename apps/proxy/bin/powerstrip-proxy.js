#!/usr/bin/env -S node --initial-old-space-size=64
// --initial-old-space-size: a 64 MiB starting budget for V8's old generation. The control path's
// libraries (dockerode and what it loads) leave ~12 MiB live there; with V8's default budget,
// every gigabyte that streams through (chunks promoted while they wait to be written) triggers
// back-to-back mark-compacts that double the proxy's CPU per byte (bench/README.md). The flag
// only takes effect when V8 starts, hence the shebang; run this file directly, not `node FILE`.
import "../dist/cli.js";
