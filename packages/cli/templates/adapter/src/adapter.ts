import { type Adapter, defineAdapter } from "@powerstrip/adapter-sdk";

/** The label this adapter adds to every container created through Powerstrip. */
export const LABEL = "io.powerstrip.seen-by";

/**
 * __NAME__: one pre-hook on `POST /containers/create` (`docker create`, `docker run`). It adds
 * a label to every container, keeping the client's own labels, and refuses privileged containers.
 *
 * Implementing a hook is subscribing to it: the SDK declares this key and stage in the handshake.
 * Add keys for other calls (`"POST /containers/{id}/start"` gives `ctx.params.id`) and `post`
 * hooks to see Docker's responses. Returning nothing lets a request pass unchanged.
 */
export const adapter: Adapter = defineAdapter({
  name: "__NAME__",
  version: "0.1.0",
  hooks: {
    "POST /containers/create": {
      pre(ctx) {
        const body = ctx.body as { Labels?: Record<string, string>; HostConfig?: { Privileged?: boolean } };
        if (body.HostConfig?.Privileged)
          return ctx.deny(403, "__NAME__: privileged containers are not allowed");
        return { body: { ...body, Labels: { ...body.Labels, [LABEL]: "__NAME__" } } };
      },
    },
  },
});
