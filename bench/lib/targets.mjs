/** The Foundation issue's targets (set to beat HAProxy, see DESIGN.md §5), and the adapter issue's (hooks). */
export const TARGETS = {
  /** Proxy CPU per request on containers/json at concurrency 16, ms. */
  listC16CpuMs: 0.25,
  /** Throughput, proxy / direct. */
  listC16Ratio: 0.9,
  listC1Ratio: 0.85,
  pingC1Ratio: 0.6,
  /** Archive upload and download throughput, proxy / direct. */
  streamRatio: 0.8,
  /** Proxy RSS growth while the archive passes, MiB. */
  streamRssMiB: 32,
  /** Attach echo round trip p50, proxy / direct (lower is better). */
  attachP50Ratio: 1.3,
  /**
   * Hooks (the adapter issue): a no-op pre-hook over a unix socket adds at most this to the p50 of
   * GET /_ping at concurrency 1, ms (hooked − unhooked proxy).
   */
  hookAddedP50Ms: 0.5,
  /** GET /containers/json?all=1 at concurrency 16, hooked / unhooked proxy req/s. */
  hookedC16Ratio: 0.6,
};
