import { ExecutionSession } from '../backends/index.js';
import type { GoalContext } from './goal.js';

/** The execution session of a goal that runs processes: its console, observer and rule context. */
export function startSession(g: GoalContext): ExecutionSession {
  return new ExecutionSession({
    ctx: g.ctx,
    run: g.run,
    env: g.env,
    options: g.options,
    services: g.execution(),
    logger: g.logger,
    backends: g.backends,
  });
}
