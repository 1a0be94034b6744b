import type { Logger } from '../core/index.js';
import { startWatcher, type ChangeBatch, type ChangeFeed, type FileWatcher } from '../daemon/index.js';
import type { Run } from '../engine/index.js';
import type { FsRules } from '../fs/index.js';
import type { App } from './app.js';
import { CONFIG_FILE } from './build-root.js';

/** What ended a wait between two iterations of `--loop`. */
export type LoopWake =
  | { readonly kind: 'change'; readonly description: string }
  | { readonly kind: 'cancelled' }
  | { readonly kind: 'restarting'; readonly reason: string };

export interface LoopDeps {
  /** The daemon's watcher (which invalidates its engines itself); absent, the loop watches the root on its own. */
  readonly changes?: ChangeFeed;
  /** Aborted when the daemon serving the loop is about to exit. */
  readonly restarting?: AbortSignal;
  readonly logger: Logger;
  readonly pid: number;
}

/** Changes that arrive this soon after a relevant one are taken into the same iteration (an editor saving several files). */
const SETTLE_MS = 50;
/** Up to this many changed paths are checked one by one, to name only those that matter. */
const MAX_NAMED = 32;

/**
 * The watching half of `--loop`. Each iteration reports the App and Run it used
 * (`ran`); between iterations `wait` resolves on the first change that reaches
 * something that run read (Engine.affects), on trews.toml, on lost events, or on
 * Ctrl-C. Changes to files the goals never read do not wake it, so a goal that
 * writes into an ignored `dist/` does not loop on its own output.
 */
export class LoopWatch {
  readonly #deps: LoopDeps;
  #active = false;
  #following = false;
  #own: { watcher: FileWatcher; rulesKey: string } | undefined;
  #unsubscribe: (() => void) | undefined;
  #app: App | undefined;
  #run: Run | undefined;
  /** An iteration is under way: it may yet read any file, so every visible change counts. */
  #running = false;
  #pending: string[] = [];
  #everything: string | undefined;
  #wake: (() => void) | undefined;

  constructor(deps: LoopDeps) {
    this.#deps = deps;
  }

  /** Watching for a goal that follows the repository (a served page), not for `--loop`. */
  get following(): boolean {
    return this.#following;
  }

  /** True once an iteration asked for `--loop` with a build root. */
  get active(): boolean {
    return this.#active;
  }

  /**
   * Called by each iteration before its run starts, so no change made while it
   * runs is missed. Starts watching on the first call (or when the ignore rules
   * changed, since they decide what a watcher leaves out).
   */
  async watch(root: string, rules: FsRules, app: App, following = false): Promise<void> {
    this.#active = true;
    this.#following = following;
    this.#app = app;
    this.#run = undefined;
    this.#running = true;
    this.#pending = [];
    this.#everything = undefined;
    if (this.#deps.changes !== undefined) {
      this.#unsubscribe ??= this.#deps.changes.subscribe((b) => this.#onBatch(b, false));
      return;
    }
    const rulesKey = JSON.stringify(rules);
    if (this.#own?.rulesKey === rulesKey) return;
    await this.close();
    const watcher = await startWatcher({ root, rules, logger: this.#deps.logger, cookies: false, pid: this.#deps.pid });
    this.#own = { watcher, rulesKey };
    this.#unsubscribe = watcher.subscribe((b) => this.#onBatch(b, true));
  }

  /** An iteration ended; `run` is what it read through (none if it failed before starting one). */
  ran(run: Run | undefined): void {
    this.#run = run;
    this.#running = false;
  }

  /** Resolves at the next relevant change, Ctrl-C (`signal`), or the daemon's restart. */
  async wait(signal: AbortSignal): Promise<LoopWake> {
    const restarting = this.#deps.restarting;
    // A change that came while the iteration ran counts: it may have read the old content.
    if (this.#pending.length === 0 && this.#everything === undefined && !signal.aborted && restarting?.aborted !== true) {
      let wake!: () => void;
      const gate = new Promise<void>((resolve) => (wake = resolve));
      this.#wake = wake;
      signal.addEventListener('abort', wake);
      restarting?.addEventListener('abort', wake);
      try {
        await gate;
      } finally {
        this.#wake = undefined;
        signal.removeEventListener('abort', wake);
        restarting?.removeEventListener('abort', wake);
      }
    }
    if (signal.aborted) return { kind: 'cancelled' };
    if (restarting?.aborted) return { kind: 'restarting', reason: reasonOf(restarting) };
    // Let the rest of a burst of saves arrive before running again.
    await new Promise((r) => setTimeout(r, SETTLE_MS));
    if (signal.aborted) return { kind: 'cancelled' };
    if (restarting?.aborted) return { kind: 'restarting', reason: reasonOf(restarting) };
    const description = this.#describe();
    this.#pending = [];
    this.#everything = undefined;
    return { kind: 'change', description };
  }

  async close(): Promise<void> {
    this.#unsubscribe?.();
    this.#unsubscribe = undefined;
    const own = this.#own;
    this.#own = undefined;
    await own?.watcher.close();
  }

  #onBatch(batch: ChangeBatch, invalidateHere: boolean): void {
    const engine = this.#app?.engine;
    if (invalidateHere && engine !== undefined) {
      if (batch.everything) engine.invalidateAll();
      else if (batch.paths.length > 0) engine.invalidatePaths(batch.paths);
    }
    if (batch.everything) {
      this.#everything ??= batch.reason ?? 'changes may have been missed';
    } else {
      // Asked before the next run applies the change, while the reverse edges still lead to this run.
      const run = this.#run;
      const everyPath = this.#running || run === undefined;
      const relevant =
        batch.paths.includes(CONFIG_FILE) || (everyPath ? batch.paths.length > 0 : engine !== undefined && engine.affects(run, batch.paths));
      if (!relevant) return;
      // Name only the paths that matter in the message; one walk each is cheap for an edit, not for a checkout.
      const named =
        everyPath || engine === undefined || batch.paths.length > MAX_NAMED
          ? batch.paths
          : batch.paths.filter((p) => p === CONFIG_FILE || engine.affects(run, [p]));
      this.#pending.push(...named);
    }
    this.#wake?.();
  }

  #describe(): string {
    if (this.#everything !== undefined) return this.#everything;
    const paths = [...new Set(this.#pending)].sort();
    if (paths.length === 1) return `${paths[0]} changed`;
    const shown = paths.slice(0, 3).join(', ');
    return `${paths.length} files changed (${shown}${paths.length > 3 ? ', …' : ''})`;
  }
}

function reasonOf(signal: AbortSignal): string {
  const r: unknown = signal.reason;
  return r instanceof Error ? r.message : typeof r === 'string' ? r : 'the daemon is restarting';
}
