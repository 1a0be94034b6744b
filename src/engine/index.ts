export type {
  AnyKey,
  ComputeContext,
  Engine,
  EngineOptions,
  EngineStats,
  InputKey,
  Key,
  Run,
  RunInputs,
  PendingInvalidations,
  RunOptions,
  RunSlot,
  SlotValue,
  UnrebuiltNode,
} from './types.js';
export { createEngine } from './engine.js';
export { createRunSlot } from './run-slot.js';
export { deepEqual } from './deep-equal.js';
export { EngineCycleError } from './cycle-error.js';
export { RunConflictError } from './run-conflict-error.js';
export { isPlainData, keptCleanValue, type PersistedGraph } from './persist.js';
export { pathsReadingOtherwise, transientReadingAsKept, type TransientCheck } from './recheck-paths.js';
export { createKeyRebuilders, keyKindOf, type KeyRebuilder, type KeyRebuilders } from './key-rebuilders.js';
