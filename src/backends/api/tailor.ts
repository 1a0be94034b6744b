import type { Project, Reader } from '../../targets/index.js';

/**
 * A target a backend would have written in a BUILD file: what it infers
 * without one, made explicit for teams that want their targets in the
 * repository (Pants' `tailor`). Writing it must change nothing about the
 * targets, their addresses or their dependencies: a declaration of an
 * inferred target's own type extends it.
 */
export interface TailorSuggestion {
  /** The directory whose BUILD file gets it, root-relative. */
  readonly dir: string;
  /** Its target type: a BUILD file of `dir` already declaring a target of this type means there is nothing to add. */
  readonly type: string;
  /** The name of the target it declares: a BUILD target of another type with that name replaces the inferred one, and the call would clash with it. */
  readonly name: string;
  /** The call to write, one line (`package_json()`). */
  readonly text: string;
}

/** What a backend contributes to `trews tailor`: computed over engine keys, like inference. */
export interface TailorProvider {
  readonly name: string;
  suggest(reader: Reader, project: Project): Promise<readonly TailorSuggestion[]>;
}
