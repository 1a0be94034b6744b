import { failure, FailureError, type Digest, type Location, type Logger } from '../../core/index.js';
import { EngineCycleError, type AnyKey, type ComputeContext, type Key, type Run } from '../../engine/index.js';
import { EXEC_RUN, ProcessKey, type Process, type ProcessResult } from '../../exec/index.js';
import { EMPTY_TREE_DIGEST, type LocalStore } from '../../store/index.js';
import { formatAddress, targetAt, type Address, type Target, type Project } from '../../targets/index.js';
import { resolveAddressField } from './address-fields.js';
import type { Behavior } from './behaviors.js';
import { cycleEdgeNote } from './cycle-edges.js';
import { fieldLocation } from './field-location.js';
import type { RuleRegistry } from './rule-registry.js';
import { EnvVarKey, ScopeOptionsKey, type ScopeOptions } from './run-inputs.js';
import { handlerOf, type TargetRules } from './target-rules.js';

/**
 * What rules are built with, one per engine and fixed for its life, like
 * the Project: its targets, and the rules of every target type.
 */
export interface RuleEnv {
  readonly project: Project;
  readonly rules: RuleRegistry;
}

/** Where a rule reads from: the computation it runs in, or (for a goal's own calls) the run. */
export type Reader = ComputeContext | Run;

/**
 * Everything a rule may use, and nothing else: the graph (targets, other
 * rules' results, processes, the run's options and environment, each read
 * through the engine so that the edge is recorded) and the run's services
 * (store, logger). A rule is a function of what it reads here; that is
 * what lets the engine memoize its result as a key and re-validate it when
 * — and only when — something it read changed.
 */
export class RuleContext {
  readonly #reader: Reader;
  readonly #renv: RuleEnv;
  readonly signal: AbortSignal;

  constructor(reader: Reader, renv: RuleEnv, signal: AbortSignal) {
    this.#reader = reader;
    this.#renv = renv;
    this.signal = signal;
  }

  get project(): Project {
    return this.#renv.project;
  }

  /** The computation (or run) this context reads through, for target functions that take one. */
  get reader(): Reader {
    return this.#reader;
  }

  get ruleEnv(): RuleEnv {
    return this.#renv;
  }

  /** Absolute path of the build root. */
  get root(): string {
    return this.#renv.project.ws.root;
  }

  /** The run's store (with blobs a remote cache deferred fetched on use). */
  get store(): LocalStore {
    return this.#reader.slot(EXEC_RUN).store;
  }

  get logger(): Logger {
    return this.#reader.slot(EXEC_RUN).context.logger;
  }

  get<V>(key: AnyKey<V>): Promise<V> {
    return this.#reader.get(key);
  }

  getAll<V>(keys: readonly AnyKey<V>[]): Promise<V[]> {
    return this.#reader.getAll(keys);
  }

  /** The options of `scope` (a subsystem, or a goal that lets rules read it). */
  options(scope: string): Promise<ScopeOptions> {
    return this.#reader.get(new ScopeOptionsKey(scope));
  }

  /** A variable of the client's environment, undefined when it is unset there. */
  clientVar(name: string): Promise<string | undefined> {
    return this.#reader.get(new EnvVarKey(name));
  }

  rulesFor(t: Target): TargetRules | undefined {
    return this.#renv.rules.rulesFor(t.type);
  }

  target(addr: Address): Promise<Target> {
    return targetAt(this.#reader, this.#renv.project, addr);
  }

  targets(addrs: readonly Address[]): Promise<Target[]> {
    return Promise.all(addrs.map((a) => this.target(a)));
  }

  /** Where `field` (or its list element `item`) of `t` is written, for an error. */
  fieldLocation(t: Target, field: string, item?: string): Promise<Location> {
    return fieldLocation(this.#reader, this.#renv.project, t, field, item);
  }

  /** The addresses an address field of `t` names (`execution_dependencies`, `files`…). */
  addressField(t: Target, field: string, raws?: readonly string[]): Promise<Address[]> {
    return resolveAddressField(this.#reader, this.#renv.project, t, field, raws);
  }

  /**
   * Runs a process through the engine (ProcessKey): once per run and, in a
   * daemon, across runs while it stays cacheable. Where the result came
   * from is the run's to tell (see the runtime's RunRecord).
   */
  execute(p: Process): Promise<ProcessResult> {
    return this.#reader.get(new ProcessKey(p));
  }

  /** What `t` puts into a dependent's sandbox (besides its sources): memoized per target. */
  contribution(t: Target): Promise<Digest> {
    return this.#reader.get(new ContributionKey(this.#renv, t.addr));
  }

  /**
   * `t`'s result for `behavior`: memoized per target (a BehaviorKey) for a
   * memoized behaviour, else computed now for `request`.
   */
  serve<R, Req>(behavior: Behavior<R, Req>, t: Target, request: Req): Promise<R> {
    if (behavior.memoized) return this.#reader.get(new BehaviorKey(this.#renv, behavior as Behavior<R>, t.addr));
    return handle(this, behavior, t, request);
  }
}

/** Calls `t`'s handler for `behavior`; a target that lacks one is a bug of the goal that asked. */
function handle<R, Req>(rc: RuleContext, behavior: Behavior<R, Req>, t: Target, request: Req): Promise<R> {
  const handler = handlerOf(rc.rulesFor(t), behavior);
  if (handler === undefined) throw new Error(`bug: ${t.address} (a \`${t.type}\`) does not provide \`${behavior.name}\``);
  return handler(rc, t, request);
}

/**
 * A rule's result as an engine node. Rules call each other through these
 * (a command's sandbox needs the outputs of the commands it depends on), so
 * the engine memoizes every result, shares it between everything that asks,
 * re-validates it when what it read changed, and reports a rule that needs
 * its own result as a cycle.
 */
abstract class RuleKey<V> implements Key<V> {
  abstract readonly id: string;
  protected readonly renv: RuleEnv;
  protected readonly addr: Address;

  constructor(renv: RuleEnv, addr: Address) {
    this.renv = renv;
    this.addr = addr;
  }

  /** The address: cycles through rule keys read as chains of targets. */
  describe(): string {
    return formatAddress(this.addr);
  }

  get address(): Address {
    return this.addr;
  }

  async compute(ctx: ComputeContext, signal: AbortSignal): Promise<V> {
    const rc = new RuleContext(ctx, this.renv, signal);
    try {
      return await this.run(rc, await rc.target(this.addr));
    } catch (e) {
      throw e instanceof EngineCycleError ? await dependencyCycle(rc, e) : e;
    }
  }

  protected abstract run(rc: RuleContext, t: Target): Promise<V>;
}

/** What a target contributes to a dependent's sandbox (SandboxRole.contribute). */
export class ContributionKey extends RuleKey<Digest> {
  readonly id: string;

  constructor(renv: RuleEnv, addr: Address) {
    super(renv, addr);
    this.id = `contribution:${formatAddress(addr)}`;
  }

  protected run(rc: RuleContext, t: Target): Promise<Digest> {
    const role = rc.rulesFor(t)?.sandbox;
    if (role?.contribute === undefined) return Promise.resolve(EMPTY_TREE_DIGEST);
    return role.contribute(rc, t);
  }
}

/** A target's result for a memoized behaviour (its test outcome, its package). */
export class BehaviorKey<R> extends RuleKey<R> {
  readonly id: string;
  readonly #behavior: Behavior<R>;

  constructor(renv: RuleEnv, behavior: Behavior<R>, addr: Address) {
    super(renv, addr);
    this.#behavior = behavior;
    this.id = `${behavior.name}:${formatAddress(addr)}`;
  }

  protected run(rc: RuleContext, t: Target): Promise<R> {
    return handle(rc, this.#behavior, t, undefined);
  }
}

/**
 * The engine's cycle report, said as the user's problem: the targets on the
 * cycle, in order, without the graph's intermediate nodes (sandbox inputs,
 * BUILD parses) between them.
 */
async function dependencyCycle(rc: RuleContext, e: EngineCycleError): Promise<FailureError> {
  const ring: Address[] = [];
  for (const k of e.keys.slice(0, -1)) {
    if (k instanceof RuleKey && k.describe() !== (ring.length > 0 ? formatAddress(ring.at(-1)!) : undefined)) ring.push(k.address);
  }
  if (ring.length > 1 && formatAddress(ring[0]!) === formatAddress(ring.at(-1)!)) ring.pop();
  if (ring.length === 0) {
    return new FailureError(failure('input', 'dependency-cycle', `dependency cycle: ${e.path.join(' -> ')}`, { hints: [CYCLE_HINT] }));
  }
  // Told from the smallest address, so the same cycle always reads the same.
  const names = ring.map(formatAddress);
  const first = names.indexOf([...names].sort()[0]!);
  const path = [...ring.slice(first), ...ring.slice(0, first), ring[first]!];
  const notes = await Promise.all(path.slice(0, -1).map((from, i) => cycleEdgeNote(rc, from, formatAddress(path[i + 1]!))));
  return new FailureError(
    failure('input', 'dependency-cycle', `dependency cycle: ${path.map(formatAddress).join(' -> ')}`, {
      notes,
      hints: [CYCLE_HINT],
    }),
  );
}

const CYCLE_HINT = 'a target cannot need its own outputs: remove one of these from `execution_dependencies` (or the field that names it)';
