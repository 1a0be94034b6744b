export type { Key, ComputeContext, Run, Engine, EngineStats, EngineOptions } from './types.js';
export { createEngine } from './engine.js';
export { deepEqual } from './deep-equal.js';
export { EngineCycleError } from './cycle-error.js';
