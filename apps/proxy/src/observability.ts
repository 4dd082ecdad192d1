import { ProxyMetrics, startMetricsServer, TraceHub } from "@powerstrip/adapter-host";
import type { Observers } from "@powerstrip/proxy-core";
import type { Logger } from "pino";
import { logDataPath } from "./logging.js";

/** The daemon's eyes on the data path: metrics (always), the trace (while watched), logs. */
export async function startObservability(
  observers: Observers,
  logger: Logger,
  metricsAddress: string | undefined,
) {
  const metrics = new ProxyMetrics({ processMetrics: true });
  const stopMetrics = metrics.observe(observers);
  const trace = new TraceHub(observers);
  const stopLogs = logDataPath(logger, observers);
  const server = metricsAddress === undefined ? undefined : await startMetricsServer(metricsAddress, metrics);
  return {
    metrics,
    trace,
    metricsAddress: server?.address,
    async close() {
      stopLogs();
      trace.close();
      stopMetrics();
      await server?.close();
    },
  };
}
