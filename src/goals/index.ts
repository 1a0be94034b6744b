import { buildGoal } from './build.js';
import { checkGoal } from './check.js';
import { exportGoal } from './export.js';
import { dependenciesGoal } from './dependencies.js';
import { dependentsGoal } from './dependents.js';
import { filedepsGoal } from './filedeps.js';
import { gcGoal } from './gc.js';
import { graphGoal } from './graph.js';
import type { Goal } from './goal.js';
import { helpAdvancedGoal, helpGoalInstance } from './help.js';
import { listGoal } from './list.js';
import { packageGoal } from './package.js';
import { peekGoal } from './peek.js';
import { runGoal } from './run.js';
import { tailorGoal } from './tailor.js';
import { testGoal } from './test.js';
import { versionGoal } from './version.js';

export type { Goal, GoalContext, ReplayWitness } from './goal.js';
export { registerOutputFile } from './goal.js';
export { CommandSession } from './command-session.js';
export { graphJson, type GraphInput } from './graph-data.js';
export { registerChangedOptions, resolveAddresses, resolveTargets, selectionReplayable, targetsAt } from './target-set.js';

/** Every goal, in the order `help` lists them. */
export function allGoals(): readonly Goal[] {
  return [listGoal, peekGoal, dependenciesGoal, dependentsGoal, filedepsGoal, graphGoal, buildGoal, checkGoal, testGoal, runGoal, packageGoal, exportGoal, tailorGoal, gcGoal, helpGoalInstance, helpAdvancedGoal, versionGoal];
}
