import type { ComputeContext } from '../engine/index.js';
import type { Workspace } from '../fs/index.js';
import type { Address } from './address.js';
import type { SyntheticTargetsProvider } from './synthetic.js';
import type { Target } from './target.js';
import type { TargetTypeRegistry } from './target-type.js';

/**
 * Adds dependencies a backend can infer from a target's sources (imports, for
 * instance). Results are addresses; `!addr` in the target's `dependencies`
 * removes any of them.
 */
export interface DependencyInferrer {
  readonly name: string;
  /** Whether this inferrer applies to the target (usually by type). */
  appliesTo(target: Target): boolean;
  infer(ctx: ComputeContext, project: Project, target: Target): Promise<readonly Address[]>;
  /**
   * What inference could not settle (an import no rule resolves), each at the
   * file and line that wrote it: `trews dependencies` prints them. An
   * inferrer asked to treat them as errors raises instead, from `infer`.
   */
  warnings?(ctx: ComputeContext, project: Project, target: Target): Promise<readonly InferenceWarning[]>;
}

/** A problem inference found and left as a warning: `file:line:col: message`. */
export interface InferenceWarning {
  readonly file: string;
  readonly line: number;
  readonly col: number;
  readonly message: string;
}

/**
 * What target keys need besides their ids: one per engine, fixed for its life
 * (the options it is built from are part of the daemon fingerprint).
 */
export interface Project {
  readonly ws: Workspace;
  readonly types: TargetTypeRegistry;
  /** The names a BUILD file may call: every registered target type. */
  readonly symbols: ReadonlySet<string>;
  /** Default name of targets in the root BUILD file: the build root's directory name. */
  readonly rootName: string;
  readonly inferrers: readonly DependencyInferrer[];
  /** Backends that declare targets without BUILD files (synthetic.ts). */
  readonly synthetic: readonly SyntheticTargetsProvider[];
}

export function createProject(
  ws: Workspace,
  types: TargetTypeRegistry,
  inferrers: readonly DependencyInferrer[] = [],
  synthetic: readonly SyntheticTargetsProvider[] = [],
): Project {
  const base = ws.root.split('/').filter(Boolean).pop() ?? 'root';
  return { ws, types, symbols: types.aliases(), rootName: base, inferrers, synthetic };
}
