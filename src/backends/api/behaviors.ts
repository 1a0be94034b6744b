import type { Target } from '../../targets/index.js';
import type { RuleContext } from './rule-context.js';

/**
 * Something a goal asks of a target: be tested, packaged, run, checked…
 * Goals are open: a backend that brings a new goal defines its behaviour
 * here beside it, and target types provide it; nothing else changes.
 *
 * A `memoized` behaviour's result is an engine key (BehaviorKey): the graph
 * keeps it between runs of a daemon and recomputes it only when something it
 * read changed. An interactive one (`run`) is called afresh by its goal, with
 * a request, and its result never outlives the run.
 */
export interface Behavior<R, Req = void> {
  readonly name: string;
  readonly memoized: boolean;
  /** Type-level only: the handler's result and request. */
  readonly __types?: (req: Req) => R;
}

export type Handler<R, Req = void> = (rc: RuleContext, t: Target, request: Req) => Promise<R>;

/** A target type's implementation of one behaviour (see `provide`). */
export interface Provision {
  readonly behavior: Behavior<unknown, unknown>;
  readonly handler: Handler<unknown, unknown>;
}

/** A behaviour whose result is memoized by the engine, per target. */
export function memoizedBehavior<R>(name: string): Behavior<R> {
  return { name, memoized: true };
}

/** A behaviour called afresh on every use, with a request (`trews run`'s arguments). */
export function interactiveBehavior<R, Req>(name: string): Behavior<R, Req> {
  return { name, memoized: false };
}

/** Declares that a target type implements `behavior` with `handler`. */
export function provide<R, Req>(behavior: Behavior<R, Req>, handler: Handler<R, Req>): Provision {
  return { behavior: behavior as Behavior<unknown, unknown>, handler: handler as Handler<unknown, unknown> };
}
