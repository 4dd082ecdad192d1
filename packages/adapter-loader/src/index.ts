export {
  ADAPTER_LABEL,
  ComposeFileError,
  type ComposePlan,
  type ComposeService,
  composeOverride,
  HOOKS_LABEL,
  LOADER_IMAGE_LABEL,
  type OverrideOptions,
  planCompose,
  projectName,
  readLabels,
} from "./compose-file.js";
export { composeReason, EXIT_SET_BROKEN, FAILED_MARKER, type LoaderOptions, runLoader } from "./loader.js";
