// The boot list (`--adapters`): parsing it, and the grants it writes for the adapters it names.
import { AdapterHostError, AdapterHostErrorCode } from "./errors.js";
import { sameImage } from "./runtime.js";
import type { AdapterRecord } from "./state-store.js";

/** One image of the boot list (`--adapters`), with the grants the operator wrote after it. */
export interface BootEntry {
  image: string;
  allowCredentials?: boolean;
  allowDocker?: boolean;
}

/** The grants a boot-list entry may carry, spelled as `powerstrip load` spells them. */
const GRANTS: Record<string, keyof Omit<BootEntry, "image">> = {
  "--allow-docker": "allowDocker",
  "--allow-credentials": "allowCredentials",
};

/**
 * Parses the boot list (`--adapters`, `POWERSTRIP_ADAPTERS`): images separated by spaces, each
 * followed by the grants the operator gives it, written as for `powerstrip load`:
 *
 *     POWERSTRIP_ADAPTERS="acme/policy acme/compose-set --allow-docker acme/mirror --allow-credentials"
 *
 * The boot list is the operator's, but an image may change under its tag: nothing is granted
 * that the line does not say (and at boot, an adapter of the set from an image the list names
 * gets the grants the list writes; see AdapterHost.boot). Throws INVALID_REQUEST for an unknown
 * flag, one before any image, or an image written twice (whose grants would be ambiguous).
 */
export function parseBootList(text: string): BootEntry[] {
  const entries: BootEntry[] = [];
  for (const token of text.split(/\s+/).filter(Boolean)) {
    if (!token.startsWith("-")) {
      const twice = entries.find((e) => sameImage(e.image, token));
      if (twice !== undefined) {
        throw new AdapterHostError(
          AdapterHostErrorCode.InvalidRequest,
          `the boot list (--adapters) names ${twice.image === token ? token : `${twice.image} and ${token} (the same image)`} twice: write each image once, followed by all its grants`,
        );
      }
      entries.push({ image: token });
      continue;
    }
    const grant = GRANTS[token];
    const last = entries[entries.length - 1];
    if (grant === undefined || last === undefined) {
      throw new AdapterHostError(
        AdapterHostErrorCode.InvalidRequest,
        grant === undefined
          ? `the boot list (--adapters) has ${JSON.stringify(token)}: after an image, only ${Object.keys(GRANTS).join(" and ")} may follow`
          : `the boot list (--adapters) starts with ${token}: write it after the image it is for, e.g. "acme/set ${token}"`,
      );
    }
    last[grant] = true;
  }
  return entries;
}

/**
 * The record with the grants the boot list writes for its image, or the record itself when the
 * list does not name its image or writes the same grants; with a warning saying what changed.
 */
export function bootGrants(
  record: AdapterRecord,
  entries: readonly BootEntry[],
): { record: AdapterRecord; warning?: string } {
  if (record.source !== "image") return { record };
  const boot = entries.find((e) => sameImage(e.image, record.image!));
  if (boot === undefined) return { record };
  const next: AdapterRecord = { ...record };
  const changes: string[] = [];
  for (const [key, flag] of [
    ["allowCredentials", "--allow-credentials"],
    ["allowDocker", "--allow-docker"],
  ] as const) {
    const wanted = boot[key] === true;
    if (wanted === (record[key] === true)) continue;
    if (wanted) next[key] = true;
    else delete next[key];
    changes.push(
      wanted ? `${flag} granted (the list writes it)` : `${flag} revoked (the list does not write it)`,
    );
  }
  if (changes.length === 0) return { record };
  return {
    record: next,
    warning: `adapter ${record.name}: the boot list (--adapters) names ${boot.image}, and its grants follow the list: ${changes.join("; ")}`,
  };
}
