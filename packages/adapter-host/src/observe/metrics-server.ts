import { createServer } from "node:http";
import { isLoopbackHost, parseAddress } from "@powerstrip/proxy-core";
import type { ProxyMetrics } from "./metrics.js";

export interface RunningMetricsServer {
  /** `tcp://127.0.0.1:PORT` as bound (port 0 resolved). */
  readonly address: string;
  close(): Promise<void>;
}

/**
 * Refuses anything but `tcp://<loopback>:PORT`: metrics name this host's adapters and show its
 * traffic (calls by method and status, denials, bytes), which is no one else's business.
 */
export function checkMetricsAddress(text: string): { host: string; port: number } {
  const address = parseAddress(text);
  if (address.kind !== "tcp")
    throw new Error(`invalid metrics address ${JSON.stringify(text)}: expected tcp://127.0.0.1:PORT`);
  if (!isLoopbackHost(address.host)) {
    throw new Error(
      `refusing to serve metrics on ${text}: loopback only (127.0.0.1, ::1); scrape through the admin socket or a local agent`,
    );
  }
  return { host: address.host, port: address.port };
}

/** `GET /metrics` on a loopback TCP port, for a Prometheus scraper that cannot read the admin socket. */
export async function startMetricsServer(
  address: string,
  metrics: ProxyMetrics,
): Promise<RunningMetricsServer> {
  const { host, port } = checkMetricsAddress(address);
  const server = createServer((req, res) => {
    const path = (req.url ?? "/").split("?")[0];
    if (req.method !== "GET" || path !== "/metrics") {
      res.writeHead(404, { "content-type": "text/plain" }).end("only GET /metrics here\n");
      return;
    }
    metrics.text().then(
      ({ contentType, body }) => {
        res
          .writeHead(200, { "content-type": contentType, "content-length": Buffer.byteLength(body) })
          .end(body);
      },
      (error: unknown) => {
        res.writeHead(500, { "content-type": "text/plain" }).end(`${String(error)}\n`);
      },
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const bound = server.address() as { port: number };
  const shown = host.includes(":") ? `[${host}]` : host;
  return {
    address: `tcp://${shown}:${bound.port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
