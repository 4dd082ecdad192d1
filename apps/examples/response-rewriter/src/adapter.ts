import { type Adapter, defineAdapter } from "@powerstrip/adapter-sdk";

/** The label that hides a container when `HIDE_LABEL` is unset. */
export const DEFAULT_HIDE_LABEL = "io.powerstrip.hidden";

/** Which containers are hidden: those carrying label `key` (with any value, or exactly `value`). */
export interface HideSelector {
  key: string;
  value?: string;
}

/**
 * Parses `HIDE_LABEL`: `key` hides containers carrying that label whatever its value; `key=value`
 * only those where it has that value. Unset or blank gives `io.powerstrip.hidden`.
 */
export function parseHideLabel(text: string | undefined): HideSelector {
  const trimmed = text?.trim() ?? "";
  if (trimmed === "") return { key: DEFAULT_HIDE_LABEL };
  const eq = trimmed.indexOf("=");
  if (eq === -1) return { key: trimmed };
  const key = trimmed.slice(0, eq).trim();
  if (key === "")
    throw new Error(`HIDE_LABEL: ${JSON.stringify(text)} has no label key (e.g. HIDE_LABEL=team=secret)`);
  return { key, value: trimmed.slice(eq + 1) };
}

/** Whether a container with these labels is hidden. */
export function isHidden(labels: unknown, selector: HideSelector): boolean {
  if (labels === null || typeof labels !== "object" || !Object.hasOwn(labels, selector.key)) return false;
  return selector.value === undefined || (labels as Record<string, unknown>)[selector.key] === selector.value;
}

/**
 * An adapter that hides containers carrying a label from `docker ps` (they are left out of
 * `GET /containers/json`) and from `docker inspect` (`GET /containers/{id}/json` answers Docker's
 * own 404). It hides; it does not protect: other calls still reach a hidden container.
 */
export function hideContainers(selector: HideSelector = { key: DEFAULT_HIDE_LABEL }): Adapter {
  return defineAdapter({
    name: "hide-containers",
    version: "0.1.0",
    // Low: on the way out post-hooks run in reverse, so it has the last word on what clients see.
    priority: 50,
    // When it cannot be asked, clients get an error rather than the hidden containers.
    failurePolicy: "fail",
    hooks: {
      "GET /containers/json": {
        post(ctx) {
          const { status, body, bodyOmitted } = ctx.response;
          if (status !== 200) return;
          if (!Array.isArray(body)) {
            // Only a list over the proxy's body limit arrives without its body.
            return {
              warnings: [`could not filter the container list (${bodyOmitted ?? "not a JSON array"})`],
            };
          }
          const shown = body.filter((container) => !isHidden(container?.Labels, selector));
          if (shown.length === body.length) return;
          return { body: shown };
        },
      },
      "GET /containers/{id}/json": {
        post(ctx) {
          if (ctx.response.status !== 200 || !isHidden(ctx.response.body?.Config?.Labels, selector)) return;
          // Docker's own answer for a container that does not exist, word for word.
          return { status: 404, body: { message: `No such container: ${ctx.params.id}` } };
        },
      },
    },
  });
}

/** The adapter as main.ts serves it: the label from `HIDE_LABEL`. */
export const adapter: Adapter = hideContainers(parseHideLabel(process.env.HIDE_LABEL));
