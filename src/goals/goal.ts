import type { Logger, RunContext } from '../core/index.js';
import type { Run } from '../engine/index.js';
import type { OptionRegistry, Options } from '../options/index.js';
import type { Address, Target, Project } from '../targets/index.js';
import type { RestorePlan, RuleEnv } from '../backends/index.js';
import type { ExecServices, ReplayMarks, RunExec } from '../runtime/index.js';
import type { TraceRecorder } from '../ui/index.js';
import type { CommandSession } from './command-session.js';

/** What a goal gets to do its work: the run, its options, and the targets it was asked about. */
export interface GoalContext {
  readonly ctx: RunContext;
  readonly run: Run;
  readonly options: Options;
  readonly project: Project;
  /** The targets and the rules of every target type, as the engine's keys were built with them. */
  readonly renv: RuleEnv;
  /** The run's services for processes (store, runners, where they report). */
  readonly exec: RunExec;
  readonly logger: Logger;
  readonly goals: readonly Goal[];
  /** Absolute path of the build root. */
  readonly root: string;
  /** The working directory relative to the build root ('' at the root). */
  readonly cwdRel: string;
  /**
   * 0 for a run; under `--loop`, how many iterations came before this one
   * (a later iteration prints only what ran again).
   */
  readonly iteration: number;
  /** What the goal keeps across the runs of this command line (see `Goal.follows`). */
  readonly session: CommandSession;
  /** Records processes and phases with `--trace`; undefined otherwise. */
  readonly trace: TraceRecorder | undefined;
  /** The targets the command line selects (specs, `--changed-since`, `--tag`), sorted by address. */
  targets(): Promise<readonly Target[]>;
  /** Only the addresses of `targets()`, in its order: cheaper when that is all a goal prints (`list`). */
  addresses(): Promise<readonly string[]>;
  /** The build root's local store and CommandRunner stack for this run's options, built on first use. */
  services(): ExecServices;
  /** The targets at these addresses, in the same order. */
  targetsAt(addrs: readonly Address[]): Promise<readonly Target[]>;
  /**
   * Writes the goal's main output to stdout, or to its `--output-file` (created
   * whole, never half-written). Lines end with a newline.
   */
  emit(lines: readonly string[]): Promise<void>;
  /**
   * Set when the run may be recorded for replay (a run without a daemon, of a
   * goal that says it is replayable): told what else the answer rests on.
   */
  readonly replay?: ReplayWitness;
}

/**
 * What a run without a daemon tells about itself so that, when it did
 * nothing, the next one with the same command line and an unchanged world
 * can be answered without running (cli/replay-record.ts).
 */
export interface ReplayWitness extends ReplayMarks {
  /** A root-relative path whose state the goal's answer rests on, beyond what the kept graph read (an output compared in the workspace). */
  observe(path: string): void;
  /** The goal had an effect a replay would not repeat (a report written): the run is not recorded. */
  refuse(why: string): void;
  /**
   * Outputs writeOutputs found restorable (its `restorable`): the replay
   * checks them itself and writes back from the local store those that are
   * absent or differ, so a run that wrote them may be recorded. Returns what
   * wraps the result line's counts (`6 files written, 0 unchanged`), which
   * the replay then prints for what it wrote.
   */
  restorable(plan: RestorePlan): (counts: string) => string;
}

export interface Goal {
  /** The goal's name on the command line, which is also its option scope. */
  readonly name: string;
  /** First sentence is the summary in `help goals`. */
  readonly help: string;
  /** Goals that need no build root (`help`, `version`) can run anywhere. */
  readonly needsBuildRoot: boolean;
  registerOptions(registry: OptionRegistry): void;
  /**
   * True when, with these options, the goal keeps serving after it returns
   * and wants to run again on every change to what it read (a page that
   * follows the repository): the runner then watches as under `--loop`,
   * quietly, until Ctrl-C, which ends the command with the goal's exit code.
   */
  follows?(options: Options): boolean;
  /**
   * True when, with these options, all the goal does is print, and compare
   * outputs it tells the run's ReplayWitness about: a run of it that did
   * nothing may be replayed (cli/replay-record.ts). Absent: never.
   */
  replayable?(options: Options): boolean;
  /** Returns the exit code; expected failures are thrown as FailureError. */
  execute(g: GoalContext): Promise<number>;
}

/** Registers the `output_file` option most introspection goals share. */
export function registerOutputFile(registry: OptionRegistry, scope: string): void {
  registry.register({
    scope,
    name: 'output_file',
    type: 'path',
    default: null,
    help: 'Write the output to this file (relative to the working directory) instead of stdout.',
  });
}
