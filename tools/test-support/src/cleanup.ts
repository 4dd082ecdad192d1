import { dockerodeFor } from "./dockerode.js";
import { RUN_LABEL } from "./names.js";
import { DIRECT_SOCKET } from "./target.js";

/**
 * Removes every container, network, volume and image carrying `label` (default: this run's).
 * Talks to the engine directly, so a broken proxy cannot leave objects behind.
 */
export async function removeLabelled(label: string = RUN_LABEL): Promise<void> {
  const docker = dockerodeFor(DIRECT_SOCKET);
  const filters = { label: [label] };
  const containers = await docker.listContainers({ all: true, filters });
  await Promise.all(
    containers.map((c) => ignoreMissing(docker.getContainer(c.Id).remove({ force: true, v: true }))),
  );
  const networks = await docker.listNetworks({ filters });
  await Promise.all(networks.map((n) => ignoreMissing(docker.getNetwork(n.Id).remove())));
  const { Volumes } = await docker.listVolumes({ filters });
  await Promise.all((Volumes ?? []).map((v) => ignoreMissing(docker.getVolume(v.Name).remove())));
  const images = await docker.listImages({ filters });
  for (const image of images) await ignoreMissing(docker.getImage(image.Id).remove({ force: true }));
}

/** Another cleanup (or the test itself) may have removed it already, or be removing it (409). */
async function ignoreMissing(p: Promise<unknown>): Promise<void> {
  try {
    await p;
  } catch (err) {
    const status = (err as { statusCode?: number }).statusCode;
    if (status !== 404 && status !== 409) throw err;
  }
}
