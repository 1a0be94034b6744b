import type { Logger } from '../core/index.js';
import type { CommandRunner, ExecRun, ProcessObserver } from '../exec/index.js';
import type { LocalStore } from '../store/index.js';
import type { ExecServices } from './services.js';

/** What a goal's execution lends the processes of its run: its tracking runner and its observer. */
export interface GoalExec {
  readonly runner: CommandRunner;
  readonly observer: ProcessObserver;
}

/**
 * A run's value of the EXEC_RUN slot: the services computations start
 * processes with, and where those processes report. The store and runner
 * stack are built on first use (introspection goals never open the store);
 * while a goal's GoalExecution is active, processes go through its
 * tracking runner and show on its console.
 */
export class RunExec implements ExecRun {
  readonly #services: () => ExecServices;
  readonly #runId: string;
  readonly #logger: Logger;
  readonly #warn: (message: string) => void;
  #goal: GoalExec | undefined;

  constructor(init: { services: () => ExecServices; runId: string; logger: Logger; warn: (message: string) => void }) {
    this.#services = init.services;
    this.#runId = init.runId;
    this.#logger = init.logger;
    this.#warn = init.warn;
  }

  get services(): ExecServices {
    return this.#services();
  }

  get runner(): CommandRunner {
    return this.#goal?.runner ?? this.#services().runner;
  }

  get store(): LocalStore {
    return this.#services().store;
  }

  get context(): ExecRun['context'] {
    const observer = this.#goal?.observer;
    return { runId: this.#runId, logger: this.#logger, warn: this.#warn, ...(observer ? { observer } : {}) };
  }

  /** Makes `goal` the active execution until `detach(goal)`. */
  attach(goal: GoalExec): void {
    this.#goal = goal;
  }

  detach(goal: GoalExec): void {
    if (this.#goal === goal) this.#goal = undefined;
  }
}
