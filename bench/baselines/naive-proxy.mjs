#!/usr/bin/env node
// A reference point, not Powerstrip: the naive Node.js proxy of DESIGN.md §5 (node:http server,
// node:http client with keep-alive, bodies pipe()d, upgrades spliced as raw sockets). Measuring it
// with the same bench shows where the real proxy stands against the obvious design:
//   npm run bench -- --proxy-cmd "node bench/baselines/naive-proxy.mjs"
import http from "node:http";
import net from "node:net";
import { parseArgs } from "node:util";

const { values } = parseArgs({ options: { listen: { type: "string" }, docker: { type: "string" } } });
const listenPath = unixPath(values.listen);
const dockerPath = unixPath(values.docker ?? "unix:///var/run/docker.sock");
const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });

const server = http.createServer((req, res) => {
  const upstream = http.request(
    { socketPath: dockerPath, method: req.method, path: req.url, headers: req.headers, agent },
    (answer) => {
      res.writeHead(answer.statusCode, answer.statusMessage, answer.headers);
      answer.pipe(res);
    },
  );
  upstream.on("error", (error) => res.destroy(error));
  req.pipe(upstream);
});

// Attach/exec with `Upgrade: tcp`: replay the head on a fresh engine connection and splice.
server.on("upgrade", (req, client, head) => {
  const engine = net.connect(dockerPath, () => {
    const lines = [`${req.method} ${req.url} HTTP/1.1`];
    for (let i = 0; i < req.rawHeaders.length; i += 2)
      lines.push(`${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}`);
    engine.write(`${lines.join("\r\n")}\r\n\r\n`);
    if (head.length) engine.write(head);
    client.pipe(engine).pipe(client);
  });
  engine.on("error", () => client.destroy());
  client.on("error", () => engine.destroy());
});

server.listen(listenPath, () => process.stderr.write(`naive-proxy: listening on unix://${listenPath}\n`));
process.on("SIGTERM", () => process.exit(0));

function unixPath(address) {
  if (!address?.startsWith("unix://")) throw new Error(`expected unix:///path.sock, got ${address}`);
  return address.slice("unix://".length);
}
