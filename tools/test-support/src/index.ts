export { type CertFiles, makeTestCertificates, type TestCertificates } from "./certs.js";
export { removeLabelled } from "./cleanup.js";
export {
  type CliOptions,
  type CliResult,
  clientEnv,
  type LiveClient,
  runClient,
  spawnClient,
  succeeded,
} from "./cli.js";
export { dockerodeFor } from "./dockerode.js";
export { BASE_IMAGE } from "./image.js";
export { containerFlags, RUN_ID, RUN_LABEL, TEST_LABEL, testLabels, uniqueName } from "./names.js";
export { formatRequest, RawConnection, type RawRequest, type RawResponse } from "./raw-http.js";
export { type Demuxed, demux, StreamCollector, withTimeout } from "./streams.js";
export { makeTar, readTar, type TarEntry } from "./tar.js";
export {
  DIRECT_SOCKET,
  type DockerTarget,
  isDirectMode,
  openTarget,
  type ProxyOptions,
  type StartProxy,
  startTestProxy,
} from "./target.js";
