import { TARGETS } from "../lib/targets.mjs";
import { describeLoad, measureHttpLoad } from "./http-load.mjs";

/**
 * GET /_ping at concurrency 1: the engine answers in tens of µs, so this is close to the proxy's
 * own fixed cost per request (and per hop), which a ratio makes plain.
 */
export async function ping(ctx) {
  ctx.describe = describeLoad;
  const result = await measureHttpLoad(ctx, {
    label: "_ping c1",
    path: "/_ping",
    concurrency: 1,
    rpsTarget: TARGETS.pingC1Ratio,
  });
  return { results: [result], rows: result.rows };
}
