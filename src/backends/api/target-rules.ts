import type { Digest } from '../../core/index.js';
import type { Target } from '../../targets/index.js';
import type { Behavior, Handler, Provision } from './behaviors.js';
import type { RuleContext } from './rule-context.js';

/** What a target puts into the sandbox of a process that depends on it. */
export interface SandboxRole {
  /**
   * Its own source files at their build-root paths (`file`, `shell_source`).
   * The sources of a whole closure are snapshotted together, as one tree.
   */
  readonly sources?: boolean;
  /**
   * Anything else: a tree of files at their build-root paths (a command's
   * outputs, a package). Memoized by the engine per target (ContributionKey).
   */
  contribute?(rc: RuleContext, t: Target): Promise<Digest>;
  /**
   * Set on targets whose contribution is something they make (a command's
   * outputs, a package), and on targets whose address fields are not plain
   * dependencies. A closure of dependencies stops at them: it takes their
   * contribution and follows only their own `dependencies` field (Pants'
   * output dependencies), never their execution dependencies.
   */
  readonly opaque?: boolean;
}

/**
 * The behaviour a backend gives one target type: how it fills a sandbox,
 * and which goals' behaviours it provides (test, package, run, …; see
 * behaviors.ts). Every part is optional: a `file` only contributes itself.
 */
export interface TargetRules {
  readonly sandbox?: SandboxRole;
  readonly provides?: readonly Provision[];
}

/** The handler `rules` give `behavior`, if any. */
export function handlerOf<R, Req>(rules: TargetRules | undefined, behavior: Behavior<R, Req>): Handler<R, Req> | undefined {
  const p = rules?.provides?.find((x) => x.behavior === (behavior as Behavior<unknown, unknown>));
  return p?.handler as Handler<R, Req> | undefined;
}
