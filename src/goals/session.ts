import { ExecutionSession } from '../runtime/index.js';
import type { GoalContext } from './goal.js';

/** The execution session of a goal that runs processes: its console, observer and rule context. */
export function startSession(g: GoalContext): ExecutionSession {
  return new ExecutionSession({ ctx: g.ctx, run: g.run, options: g.options, renv: g.renv, exec: g.exec, ...(g.trace ? { trace: g.trace } : {}) });
}
