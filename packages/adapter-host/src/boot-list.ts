import type { BootEntry } from "./adapter-host.js";
import { AdapterHostError, AdapterHostErrorCode } from "./errors.js";

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
 * that the line does not say. Throws INVALID_REQUEST for an unknown flag or one before any image.
 */
export function parseBootList(text: string): BootEntry[] {
  const entries: BootEntry[] = [];
  for (const token of text.split(/\s+/).filter(Boolean)) {
    if (!token.startsWith("-")) {
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
