// The plug-in API: what a backend author needs, and nothing of a run's machinery.
export type { Backend, KeyRebuildEnv, TargetDefinition } from './backend.js';
export { ruleKeyRebuilders } from './key-rebuilders.js';
export { interactiveBehavior, memoizedBehavior, provide, type Behavior, type Handler, type Provision } from './behaviors.js';
export { BUILD, CHECK, EXPORT, PACKAGE, RUN, TEST, type BuiltOutputs, type CheckOutcome, type BuiltPackage, type InteractiveProcess, type RunRequest, type TestOutcome } from './goal-behaviors.js';
export { testSettings, testTimeoutS, type TestSettings } from './test-settings.js';
export { alreadyHolds, outputsOptions, writeOutputs, type RestorePlan, type WrittenOutputs, type WriteOutputsOptions } from './workspace-outputs.js';
export { handlerOf, type SandboxRole, type TargetRules } from './target-rules.js';
export { BehaviorKey, ContributionKey, RuleContext, type Reader, type RuleEnv } from './rule-context.js';
export { RuleRegistry } from './rule-registry.js';
export type { TailorProvider, TailorSuggestion } from './tailor.js';
export { buildInputs, inputKeyRebuilders, EnvPrefixKey, HostPlatformKey, RemoteExecutionServerKey, EnvVarKey, ScopeOptionsKey, SESSION_VARIABLES, type BuildInputs, type ScopeOptions } from './run-inputs.js';
export { fieldLocation } from './field-location.js';
export { countTestCases, FILE_CASE_NAME, testCaseTitle, type TestCase, type TestCaseCounts, type TestCaseFailure, type TestCaseLocation, type TestCaseStatus } from './test-cases.js';
export { cycleEdgeNote } from './cycle-edges.js';
export { DeclaredDependenciesKey, resolveAddressField } from './address-fields.js';
export { inputClosure, sandboxInputs, SandboxInputsKey } from './sandbox-inputs.js';
export { processFailure, outputExcerpt, howItFailed } from './process-failure.js';
export {
  expandSearchPaths,
  findExecutable,
  lookupTool,
  PATH_TOKEN,
  resolveSystemBinary,
  resolveTool,
  SHELL_SCOPE,
  SHELL_SEARCH,
  shimText,
  SYSTEM_BINARIES_SCOPE,
  toolSearchPath,
  toolsTree,
  toolKeyRebuilders,
  TOOLS_DIR,
  workerTool,
  type SearchDirs,
  type Tool,
  type ToolSearch,
} from './tools.js';
export { isolationOf, networkField, sandboxIsolationField } from './sandbox-fields.js';
export { describeEnvironment, environmentOf, type Environment, type LocalEnvironment, type RemoteEnvironment } from './environments.js';
export {
  DEFAULT_REMOTE_SEARCH_PATHS,
  ENVIRONMENTS_SCOPE,
  LOCAL_ENVIRONMENT,
  LOCAL_ENVIRONMENT_TYPE,
  localEnvironmentTarget,
  PLATFORMS,
  platformOfHost,
  platformProperties,
  REMOTE_ENVIRONMENT_TYPE,
  remoteEnvironmentTarget,
  type PlatformName,
} from './environment-types.js';
