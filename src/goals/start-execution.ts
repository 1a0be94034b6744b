import { GoalExecution } from '../runtime/index.js';
import type { GoalContext } from './goal.js';

/** The execution of a goal that runs processes: its console, observer and rule context. */
export function startExecution(g: GoalContext): GoalExecution {
  return new GoalExecution({ ctx: g.ctx, run: g.run, options: g.options, renv: g.renv, exec: g.exec, ...(g.trace ? { trace: g.trace } : {}), ...(g.replay ? { replay: g.replay } : {}) });
}
