import { defineAdapter } from "@powerstrip/adapter-sdk";

/** The label the agent puts on every container created through Powerstrip. */
export const NETWORK_LABEL = "io.socketplane.network";

/**
 * The socketplane-style agent: it would attach new containers to an overlay network run by the
 * ovs service; here it labels each `docker create` with the network it joins
 * (SOCKETPLANE_NETWORK, default `default`).
 */
export function socketplaneAdapter(network = process.env.SOCKETPLANE_NETWORK || "default") {
  return defineAdapter({
    name: "socketplane",
    priority: 200,
    hooks: {
      "POST /containers/create": {
        pre(ctx) {
          const body = (ctx.body ?? {}) as { Labels?: Record<string, string> };
          return { body: { ...body, Labels: { ...body.Labels, [NETWORK_LABEL]: network } } };
        },
      },
    },
  });
}
