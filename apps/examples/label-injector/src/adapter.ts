import { type Adapter, defineAdapter } from "@powerstrip/adapter-sdk";

/** The labels added when `LABELS` is unset or empty. */
export const DEFAULT_LABELS: Readonly<Record<string, string>> = Object.freeze({
  "io.powerstrip.injected": "true",
});

export interface LabelInjectorOptions {
  /** Added to every container created; they replace a client's label of the same key. */
  labels?: Readonly<Record<string, string>>;
}

/**
 * Parses `LABELS`: `key=value` pairs separated by commas (`team=web,env=dev`). A value may hold
 * `=` but not `,`; an empty value (`key=`) is a label with an empty value. Unset or blank gives
 * DEFAULT_LABELS; anything else that is not a list of pairs throws, naming the bad entry.
 */
export function parseLabels(text: string | undefined): Record<string, string> {
  if (text === undefined || text.trim() === "") return { ...DEFAULT_LABELS };
  const labels: Record<string, string> = {};
  for (const entry of text.split(",").map((e) => e.trim())) {
    if (entry === "") continue; // a trailing comma
    const eq = entry.indexOf("=");
    const key = eq === -1 ? "" : entry.slice(0, eq).trim();
    if (key === "") {
      throw new Error(`LABELS: ${JSON.stringify(entry)} is not key=value (e.g. LABELS="team=web,env=dev")`);
    }
    labels[key] = entry.slice(eq + 1).trim();
  }
  return labels;
}

/**
 * An adapter that adds `labels` to every container created through the proxy, keeping the
 * client's own labels. Where the client set a label of the same key, the operator's value wins
 * and the proxy's log gets a warning.
 */
export function labelInjector(options: LabelInjectorOptions = {}): Adapter {
  const labels = { ...(options.labels ?? DEFAULT_LABELS) };
  return defineAdapter({
    name: "label-injector",
    version: "0.1.0",
    // Early on the way in: adapters after it (a policy, say) see the labels.
    priority: 100,
    // A container that should carry the labels is not created without them.
    failurePolicy: "fail",
    hooks: {
      "POST /containers/create": {
        pre(ctx) {
          if (ctx.body === null || typeof ctx.body !== "object" || Array.isArray(ctx.body)) {
            // Docker refuses such a request itself; nothing to label.
            return {
              warnings: [
                `not labelled: the request carried no JSON object (${ctx.bodyOmitted ?? "no body"})`,
              ],
            };
          }
          const theirs: Record<string, string> = ctx.body.Labels ?? {};
          const body = { ...ctx.body, Labels: { ...theirs, ...labels } };
          const replaced = Object.keys(labels).filter(
            (key) => Object.hasOwn(theirs, key) && theirs[key] !== labels[key],
          );
          if (replaced.length === 0) return { body };
          const warnings = replaced.map(
            (key) => `replaced the client's label ${key}=${theirs[key]} with ${key}=${labels[key]}`,
          );
          return { body, warnings };
        },
      },
    },
  });
}

/** The adapter as main.ts serves it: labels from `LABELS`. */
export const adapter: Adapter = labelInjector({ labels: parseLabels(process.env.LABELS) });
