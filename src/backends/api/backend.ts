import type { KeyRebuilder } from '../../engine/index.js';
import type { OptionRegistry, Options } from '../../options/index.js';
import type { DependencyInferrer, SyntheticTargetsProvider, TargetType } from '../../targets/index.js';
import type { RuleEnv } from './rule-context.js';
import type { TailorProvider } from './tailor.js';
import type { TargetRules } from './target-rules.js';

/** A target type with its behaviour: the two are declared together, so neither can name the other wrongly. */
export interface TargetDefinition {
  readonly type: TargetType;
  /** How it fills sandboxes and which goals' behaviours it provides; none: it only groups dependencies. */
  readonly rules?: TargetRules;
}

/**
 * A backend contributes target types with their rules, dependency
 * inferrers, targets inferred without BUILD files, and the options of its subsystems. trews is the sum of its
 * backends; a new language is a new backend, nothing else changes.
 */
export interface Backend {
  readonly name: string;
  readonly targets: readonly TargetDefinition[];
  readonly inferrers?: readonly DependencyInferrer[];
  /** Targets it infers without BUILD files (a package.json's package and scripts). */
  readonly syntheticTargets?: readonly SyntheticTargetsProvider[];
  /** What `trews tailor` writes into BUILD files for it (the targets it infers, made explicit). */
  readonly tailor?: TailorProvider;
  registerOptions?(registry: OptionRegistry): void;
  /**
   * How the keys it owns that compute on their own (transient keys: what it
   * reads from the machine, as a program's version) come back from their id
   * in a graph a run without a daemon kept (engine `KeyRebuilder`). A kind
   * without one comes back as a stub, and every node that re-validates
   * through it recomputes, on every run.
   */
  keyRebuilders?(env: KeyRebuildEnv): readonly KeyRebuilder[];
}

/** What keys are rebuilt with: the App's rule environment, and the options of the run that loads the kept graph. */
export interface KeyRebuildEnv {
  readonly renv: RuleEnv;
  readonly options: Options;
}
