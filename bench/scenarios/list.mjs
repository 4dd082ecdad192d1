import { createMany, dockerClient, removeTracked } from "../lib/docker.mjs";
import { TARGETS } from "../lib/targets.mjs";
import { describeLoad, measureHttpLoad } from "./http-load.mjs";

/**
 * GET /containers/json?all=1 with ~30 containers present, at concurrency 1 and 16: the bread and
 * butter of `docker ps` and of every tool polling the engine. A response of some 30 KiB, chunked.
 */
export async function list(ctx) {
  ctx.describe = describeLoad;
  ctx.log(`  creating ${ctx.opts.containers} containers running \`sleep infinity\` …`);
  const ids = await createMany(ctx.docker, ctx.registry, ctx.opts.containers, {
    Image: ctx.opts.image,
    Cmd: ["sleep", "infinity"],
  });
  try {
    const present = await checkSameListing(ctx);
    const results = [];
    for (const concurrency of [1, 16]) {
      results.push(
        await measureHttpLoad(ctx, {
          label: `containers/json c${concurrency} [${present} ctrs]`,
          path: "/containers/json?all=1",
          concurrency,
          rpsTarget: concurrency === 1 ? TARGETS.listC1Ratio : TARGETS.listC16Ratio,
          cpuTarget: concurrency === 16 ? TARGETS.listC16CpuMs : undefined,
        }),
      );
    }
    return { containersListed: present, results, rows: results.flatMap((r) => r.rows) };
  } finally {
    await removeTracked(ctx.docker, ctx.registry, ids);
  }
}

/** Before timing anything: both paths must list the same containers. Returns how many. */
async function checkSameListing(ctx) {
  const ids = async (via) =>
    (await dockerClient(ctx.sockets[via]).json("GET", "/containers/json?all=1")).map((c) => c.Id).sort();
  const [direct, proxy] = [await ids("direct"), await ids("proxy")];
  if (direct.join() !== proxy.join()) {
    ctx.problem(
      `containers/json: ${direct.length} containers listed direct, ${proxy.length} through the proxy`,
    );
  }
  return direct.length;
}
