export type { ExecServices } from './services.js';
export { localStoreDirOf } from './services.js';
export type {
  BuiltPackage,
  Executed,
  InteractiveProcess,
  Provenance,
  SandboxRole,
  TargetRules,
  TestOutcome,
  TestSettings,
} from './target-rules.js';
export { RuleContext, type RuleContextInit, type RunRecord } from './rule-context.js';
export { fieldLocation } from './field-location.js';
export { DeclaredDependenciesKey, resolveAddressField } from './address-fields.js';
export { contributionOf, inputClosure, sandboxInputs } from './sandbox-inputs.js';
export { ConsoleObserver } from './console-observer.js';
export { ExecutionSession, rulesByType, type SessionInit } from './session.js';
export { TrackingRunner } from './tracking-runner.js';
export { boundStoreSize, formatBytes } from './store-bound.js';
export { processFailure, outputExcerpt, howItFailed } from './process-failure.js';
