import { closest } from '../core/index.js';
import type { FieldSpec } from './fields.js';

/** A target type as users write it in BUILD files (`files(...)`), with its fields. */
export interface TargetType {
  readonly alias: string;
  /** First sentence is the summary shown by `help targets`. */
  readonly help: string;
  /** Fields beyond the ones every target has (name, dependencies, tags, description). */
  readonly fields: readonly FieldSpec[];
  /**
   * Set on target generators: one target of type `generates` is made per file
   * matched by the `sources` field, addressed `dir/file.ext:name`.
   */
  readonly generator?: {
    readonly generates: string;
    /** The single-file field the generated target gets (`source`). */
    readonly sourceField: string;
  };
}

/** Fields every target has, in the order `peek` and `help` show them. */
export const COMMON_FIELDS: readonly FieldSpec[] = [
  {
    name: 'name',
    type: { kind: 'string' },
    help: 'The name of the target; with the directory it forms the address `dir:name`. Defaults to the directory name.',
  },
  {
    name: 'dependencies',
    type: { kind: 'dependencies' },
    default: [],
    help: "Addresses of targets this one depends on: `dir:name`, `//dir:name`, `:sibling`, `./file` or file paths. Prefix with `!` to exclude an inferred or implicit dependency.",
  },
  { name: 'tags', type: { kind: 'string_list' }, default: [], help: 'Arbitrary labels, for filtering with `--tag`.' },
  { name: 'description', type: { kind: 'string' }, default: null, help: 'A human-readable description of the target.' },
];

/** The target types a trews process knows; backends register theirs at start-up. */
export class TargetTypeRegistry {
  readonly #types = new Map<string, TargetType>();

  register(type: TargetType): void {
    if (this.#types.has(type.alias)) throw new Error(`target type \`${type.alias}\` registered twice`);
    const names = new Set(COMMON_FIELDS.map((f) => f.name));
    for (const f of type.fields) {
      if (names.has(f.name)) throw new Error(`target type \`${type.alias}\` declares field \`${f.name}\` twice`);
      names.add(f.name);
    }
    this.#types.set(type.alias, type);
  }

  get(alias: string): TargetType | undefined {
    return this.#types.get(alias);
  }

  /** Sorted by alias. */
  all(): TargetType[] {
    return [...this.#types.values()].sort((a, b) => (a.alias < b.alias ? -1 : 1));
  }

  aliases(): ReadonlySet<string> {
    return new Set(this.#types.keys());
  }

  /** All fields of a type: the common ones, then its own. */
  fieldsOf(type: TargetType): readonly FieldSpec[] {
    return [...COMMON_FIELDS, ...type.fields];
  }

  suggest(alias: string): string | undefined {
    return closest(alias, this.#types.keys());
  }
}
