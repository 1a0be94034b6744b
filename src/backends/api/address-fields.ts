import { FailureError, isFailureError } from '../../core/index.js';
import type { ComputeContext, Key } from '../../engine/index.js';
import {
  compareAddresses,
  formatAddress,
  parseAddressInput,
  resolveAddressInput,
  stringListField,
  targetAt,
  type Address,
  type Target,
  type Project,
} from '../../targets/index.js';
import { failure } from '../../core/index.js';
import { fieldLocation } from './field-location.js';

type Reader = Pick<ComputeContext, 'get' | 'getAll'>;

/**
 * The addresses a field of address strings names (`execution_dependencies`,
 * `files`, `runnable`…), resolved as `dependencies` entries are: relative to
 * the BUILD file's directory, a file path meaning its owners, every address
 * checked to exist. Unlike `dependencies` there are no `!` exclusions. Errors
 * point at the entry in the BUILD file.
 */
export async function resolveAddressField(reader: Reader, project: Project, t: Target, field: string, raws?: readonly string[]): Promise<Address[]> {
  const out = new Map<string, Address>();
  for (const raw of raws ?? stringListField(t, field)) {
    const input = parseAddressInput(raw, t.addr.dir);
    if (typeof input === 'string') {
      throw new FailureError(
        failure('input', 'bad-address', `${input} (in \`${field}\` of ${t.address})`, { location: await fieldLocation(reader, project, t, field, raw) }),
      );
    }
    let resolved: Address[];
    try {
      resolved = await resolveAddressInput(reader as ComputeContext, project, input, { what: `in \`${field}\` of ${t.address}` });
    } catch (e) {
      if (isFailureError(e) && e.failure.location === undefined && e.failure.tag === 'input') {
        throw new FailureError({ ...e.failure, location: await fieldLocation(reader, project, t, field, raw) });
      }
      throw e;
    }
    for (const a of resolved) out.set(formatAddress(a), a);
  }
  return [...out.keys()].sort(compareAddresses).map((k) => out.get(k)!);
}

/**
 * A target's own `dependencies` field resolved (with `!` exclusions), plus
 * the targets it generated — without what backends infer. A closure of
 * execution inputs follows this for targets whose other address fields are
 * not plain dependencies (a shell_command's execution dependencies are
 * inputs of its process, not of the processes that use its outputs).
 */
export class DeclaredDependenciesKey implements Key<readonly Address[]> {
  readonly id: string;
  readonly ignoresSignal = true;
  readonly #project: Project;
  readonly #addr: Address;

  constructor(project: Project, addr: Address) {
    this.#project = project;
    this.#addr = addr;
    this.id = `declared-dependencies:${formatAddress(addr)}`;
  }

  describe(): string {
    return `declared dependencies of ${formatAddress(this.#addr)}`;
  }

  async compute(ctx: ComputeContext): Promise<readonly Address[]> {
    const t = await targetAt(ctx, this.#project, this.#addr);
    const deps = new Map<string, Address>();
    for (const g of t.generated ?? []) deps.set(formatAddress(g), g);
    const excluded = new Set<string>();
    for (const ref of t.dependencyRefs) {
      const exclude = ref.raw.startsWith('!');
      const input = parseAddressInput(exclude ? ref.raw.slice(1) : ref.raw, this.#addr.dir);
      if (typeof input === 'string') throw new FailureError(failure('input', 'bad-address', input, { location: ref.location }));
      const resolved = await resolveAddressInput(ctx, this.#project, input, { what: `in \`dependencies\` of ${t.address}`, location: ref.location });
      for (const a of resolved) {
        if (exclude) excluded.add(formatAddress(a));
        else deps.set(formatAddress(a), a);
      }
    }
    for (const k of excluded) deps.delete(k);
    deps.delete(t.address);
    return [...deps.keys()].sort(compareAddresses).map((k) => deps.get(k)!);
  }
}
