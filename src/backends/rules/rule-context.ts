import { AsyncLocalStorage } from 'node:async_hooks';
import { digestString, failure, FailureError, type Logger } from '../../core/index.js';
import type { Run } from '../../engine/index.js';
import { ProcessKey, type CommandRunner, type ExecContext, type Process } from '../../exec/index.js';
import type { Options } from '../../options/index.js';
import type { LocalStore } from '../../store/index.js';
import { targetAt, type Address, type Target, type TargetEnv } from '../../targets/index.js';
import type { ExecServices } from './services.js';
import type { Executed, TargetRules } from './target-rules.js';

export interface RuleContextInit {
  readonly run: Run;
  readonly env: TargetEnv;
  readonly services: ExecServices;
  readonly execCtx: ExecContext;
  readonly options: Options;
  /** The client's environment: `<PATH>` in search paths, `extra_env_vars` and `trews run` read it. */
  readonly clientEnv: Readonly<Record<string, string>>;
  /** Rules by target type alias, from every backend. */
  readonly rules: ReadonlyMap<string, TargetRules>;
  /** What this run's observer saw: which actions finished, and results no runner was asked for. */
  readonly record: RunRecord;
}

/** See ConsoleObserver. */
export interface RunRecord {
  /** Whether the action (digestString of its digest) finished in this run. */
  has(actionDigest: string): boolean;
  /** Counts a result the daemon's graph kept from an earlier run. */
  memoized(): void;
}

interface Entry {
  readonly label: string;
  readonly promise: Promise<unknown>;
}

/**
 * The services rules use during one run, and the run's memo of rule results.
 *
 * Why a per-run memo and not engine keys for rule results: a command's
 * process depends on things no watcher sees — the digest of `node` on the
 * search path, the client's PATH and the variables `extra_env_vars` passes —
 * so a rule result must not outlive its run. What can outlive it is
 * memoized by the engine underneath: targets, source snapshots (SnapshotKey)
 * and processes (ProcessKey, whose id is the action digest, so an unchanged
 * command is not run again in a daemon and is served by the local cache
 * otherwise). Re-deriving the rule results each run costs tree merges (also
 * memoized per store) and action digests.
 *
 * Rules call each other through `once`, which also detects cycles (a
 * shell_command whose execution dependencies lead back to itself) by keeping
 * the graph of who waits for whom, as the engine does for keys.
 */
export class RuleContext {
  readonly run: Run;
  readonly env: TargetEnv;
  readonly store: LocalStore;
  readonly runner: CommandRunner;
  readonly execCtx: ExecContext;
  readonly options: Options;
  readonly clientEnv: Readonly<Record<string, string>>;
  readonly #rules: ReadonlyMap<string, TargetRules>;
  readonly #record: RunRecord;
  readonly #memo = new Map<string, Entry>();
  /** key → keys it is waiting for right now. */
  readonly #waits = new Map<string, Map<string, number>>();
  readonly #current = new AsyncLocalStorage<string>();

  constructor(init: RuleContextInit) {
    this.run = init.run;
    this.env = init.env;
    this.store = init.services.store;
    this.runner = init.services.runner;
    this.execCtx = init.execCtx;
    this.options = init.options;
    this.clientEnv = init.clientEnv;
    this.#rules = init.rules;
    this.#record = init.record;
  }

  get root(): string {
    return this.env.ws.root;
  }

  get signal(): AbortSignal {
    return this.execCtx.signal;
  }

  get logger(): Logger {
    return this.execCtx.logger;
  }

  rulesFor(t: Target): TargetRules | undefined {
    return this.#rules.get(t.type);
  }

  target(addr: Address): Promise<Target> {
    return targetAt(this.run, this.env, addr);
  }

  targets(addrs: readonly Address[]): Promise<Target[]> {
    return Promise.all(addrs.map((a) => this.target(a)));
  }

  /**
   * The result of `compute` for `key`, computed once per run. `label` names
   * the work in a cycle report (an address). A request that would wait for
   * itself, directly or through others, is a `dependency-cycle` failure.
   */
  once<T>(key: string, label: string, compute: () => Promise<T>): Promise<T> {
    const from = this.#current.getStore();
    let entry = this.#memo.get(key);
    if (entry === undefined) {
      // Started on the next microtask, so the caller's wait below is recorded
      // before the computation can ask for anything (a cycle would go unseen).
      const promise = Promise.resolve().then(() => this.#current.run(key, compute));
      entry = { label, promise };
      this.#memo.set(key, entry);
      // A failure stays memoized for the run: every dependent reports the same one.
      promise.catch(() => undefined);
    } else if (from !== undefined) {
      const cycle = this.#pathBetween(key, from);
      if (cycle !== undefined) {
        const labels = [from, ...cycle].map((k) => this.#memo.get(k)?.label ?? k);
        throw new FailureError(
          failure('input', 'dependency-cycle', `dependency cycle: ${labels.join(' -> ')}`, {
            hints: ['a target cannot need its own outputs: remove one of these from `execution_dependencies` (or the field that names it)'],
          }),
        );
      }
    }
    if (from === undefined) return entry.promise as Promise<T>;
    this.#addWait(from, key);
    return (entry.promise as Promise<T>).finally(() => this.#removeWait(from, key));
  }

  /**
   * Runs a process through the engine (ProcessKey: once per run, and across
   * runs in a daemon) and says where its result came from. A failure the
   * daemon's graph kept from an earlier run is run again, as Pants does:
   * only successes are worth remembering.
   */
  async execute(p: Process): Promise<Executed> {
    const result = await this.run.get(new ProcessKey(this.runner, this.execCtx, p));
    if (this.#record.has(digestString(result.actionDigest))) return { result, provenance: result.source };
    if (result.exitCode === 0 && !result.timedOut) {
      this.#record.memoized();
      return { result, provenance: 'memoized' };
    }
    const again = await this.runner.run(this.execCtx, p);
    return { result: again, provenance: again.source };
  }

  #addWait(from: string, to: string): void {
    let m = this.#waits.get(from);
    if (m === undefined) this.#waits.set(from, (m = new Map()));
    m.set(to, (m.get(to) ?? 0) + 1);
  }

  #removeWait(from: string, to: string): void {
    const m = this.#waits.get(from);
    const n = m?.get(to);
    if (m === undefined || n === undefined) return;
    if (n > 1) m.set(to, n - 1);
    else m.delete(to);
    if (m.size === 0) this.#waits.delete(from);
  }

  /** Keys from `start` to `goal` along waits (both included), or undefined. */
  #pathBetween(start: string, goal: string): string[] | undefined {
    if (start === goal) return [start];
    const parent = new Map<string, string>([[start, start]]);
    const queue = [start];
    for (let k = queue.shift(); k !== undefined; k = queue.shift()) {
      for (const next of this.#waits.get(k)?.keys() ?? []) {
        if (parent.has(next)) continue;
        parent.set(next, k);
        if (next === goal) {
          const path = [goal];
          for (let p = k; p !== start; p = parent.get(p)!) path.unshift(p);
          path.unshift(start);
          return path;
        }
        queue.push(next);
      }
    }
    return undefined;
  }
}
