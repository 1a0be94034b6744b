import { ExecutionStage_Value } from '../../reapi/index.js';

/**
 * Where one remote action is: our own steps around Execute, and the stages
 * the server reports in ExecuteOperationMetadata.
 */
export type ActionPhase =
  | { readonly kind: 'uploading' }
  /** Execute sent; no Operation yet. */
  | { readonly kind: 'accepting' }
  | { readonly kind: 'stage'; readonly stage: ExecutionStage_Value }
  | { readonly kind: 'fetching' };

/**
 * Phases in which nothing runs yet: a worker has still to take the action.
 * UNKNOWN (a server that reports no stage) is not one: we cannot tell.
 */
export function isWaitingForWorker(p: ActionPhase): boolean {
  if (p.kind === 'accepting') return true;
  return p.kind === 'stage' && (p.stage === ExecutionStage_Value.QUEUED || p.stage === ExecutionStage_Value.CACHE_CHECK);
}

function samePhase(a: ActionPhase, b: ActionPhase): boolean {
  return a.kind === b.kind && (a.kind !== 'stage' || a.stage === (b as { stage: ExecutionStage_Value }).stage);
}

/** `queued`, `executing`, … as a sentence fragment. */
export function phaseText(p: ActionPhase): string {
  switch (p.kind) {
    case 'uploading':
      return 'uploading its inputs';
    case 'accepting':
      return 'waiting for the server to accept it';
    case 'fetching':
      return 'fetching its outputs';
    case 'stage':
      switch (p.stage) {
        case ExecutionStage_Value.QUEUED:
          return 'queued';
        case ExecutionStage_Value.EXECUTING:
          return 'executing';
        case ExecutionStage_Value.CACHE_CHECK:
          return 'in the cache check';
        case ExecutionStage_Value.COMPLETED:
          return 'completed';
        default:
          return 'in an unknown stage';
      }
  }
}

export interface ActionProgressOptions {
  /** Calls `onStuck` once when the action has waited for a worker this long; 0: never. */
  readonly warnAfterMs: number;
  readonly onStuck: (phase: ActionPhase, forMs: number) => void;
}

/**
 * The phase one remote action is in and since when, so that a deadline can
 * say where the time went ("queued for the last 58 s") rather than blame
 * the server's load, and so that an action nobody takes is reported while
 * the build still waits. Time in a phase is as seen by this client: a
 * server that re-sends the same stage does not restart it.
 */
export class ActionProgress {
  readonly #o: ActionProgressOptions;
  #phase: ActionPhase = { kind: 'uploading' };
  #since = performance.now();
  #timer: NodeJS.Timeout | undefined;
  #warned = false;

  constructor(o: ActionProgressOptions) {
    this.#o = o;
  }

  get phase(): ActionPhase {
    return this.#phase;
  }

  /** Milliseconds in the current phase. */
  get inPhaseMs(): number {
    return performance.now() - this.#since;
  }

  enter(phase: ActionPhase): void {
    if (samePhase(phase, this.#phase)) return;
    // From one waiting phase to another (accepted, then queued), the wait goes on.
    const waitGoesOn = isWaitingForWorker(this.#phase) && isWaitingForWorker(phase);
    this.#phase = phase;
    if (waitGoesOn) return;
    this.#since = performance.now();
    this.#schedule();
  }

  /** "it was queued for the last 3 s (no worker took it)": for the deadline's message. */
  describe(): string {
    const secs = Math.round(this.inPhaseMs / 1000);
    const p = this.#phase;
    if (isWaitingForWorker(p)) return `it was ${phaseText(p)} for the last ${secs} s; no worker took it`;
    if (p.kind === 'stage' && p.stage === ExecutionStage_Value.EXECUTING) return `it was executing for the last ${secs} s`;
    return `it was ${phaseText(p)} for the last ${secs} s`;
  }

  stop(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #schedule(): void {
    this.stop();
    if (this.#warned || this.#o.warnAfterMs <= 0 || !isWaitingForWorker(this.#phase)) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      if (!isWaitingForWorker(this.#phase)) return;
      this.#warned = true;
      this.#o.onStuck(this.#phase, this.inPhaseMs);
    }, this.#o.warnAfterMs);
    // A pending warning must not keep a finished process alive.
    this.#timer.unref();
  }
}
