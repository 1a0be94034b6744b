// The plug-in API: what a backend author needs, and nothing of a run's machinery.
export type { Backend, TargetDefinition } from './backend.js';
export { interactiveBehavior, memoizedBehavior, provide, type Behavior, type Handler, type Provision } from './behaviors.js';
export { PACKAGE, RUN, TEST, type BuiltPackage, type InteractiveProcess, type RunRequest, type TestOutcome } from './goal-behaviors.js';
export { handlerOf, type SandboxRole, type TargetRules } from './target-rules.js';
export { BehaviorKey, ContributionKey, RuleContext, type Reader, type RuleEnv } from './rule-context.js';
export { RuleRegistry } from './rule-registry.js';
export { buildInputs, EnvVarKey, ScopeOptionsKey, SESSION_VARIABLES, type BuildInputs, type ScopeOptions } from './run-inputs.js';
export { fieldLocation } from './field-location.js';
export { cycleEdgeNote } from './cycle-edges.js';
export { DeclaredDependenciesKey, resolveAddressField } from './address-fields.js';
export { inputClosure, sandboxInputs, SandboxInputsKey } from './sandbox-inputs.js';
export { processFailure, outputExcerpt, howItFailed } from './process-failure.js';
export {
  expandSearchPaths,
  findExecutable,
  PATH_TOKEN,
  resolveSystemBinary,
  resolveTool,
  SHELL_SCOPE,
  SHELL_SEARCH,
  shimText,
  SYSTEM_BINARIES_SCOPE,
  toolsTree,
  TOOLS_DIR,
  type Tool,
  type ToolSearch,
} from './tools.js';
