import type { BootEntry } from "./adapter-host.js";
import { AdapterHostError, AdapterHostErrorCode } from "./errors.js";
import { sameImage } from "./runtime.js";

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
