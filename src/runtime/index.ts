// What a run of goals sets up around the engine: the services processes run
// with, the console and observer of a goal, the store's bound. Goals use it;
// backends never see it (they see backends/api).
export { localStoreDirOf, type ExecServices } from './services.js';
export { RunExec, type GoalExec } from './run-exec.js';
export { GoalExecution, type Provenance, type GoalExecutionInit, type ReplayMarks } from './goal-execution.js';
export { ConsoleObserver, tracedProcess, tracedResult } from './console-observer.js';
export { consoleColors } from './console-colors.js';
export { TrackingRunner } from './tracking-runner.js';
export { boundStoreSize, formatBytes } from './store-bound.js';
