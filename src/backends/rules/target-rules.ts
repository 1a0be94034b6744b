import type { Digest } from '../../core/index.js';
import type { ProcessResult } from '../../exec/index.js';
import type { Target } from '../../targets/index.js';
import type { RuleContext } from './rule-context.js';

/**
 * How a process result was obtained, as result lines print it: where the
 * runner stack found it, or `memoized` when the daemon's graph already held
 * it from an earlier run (no runner was asked at all).
 */
export type Provenance = ProcessResult['source'] | 'memoized';

export interface Executed {
  readonly result: ProcessResult;
  readonly provenance: Provenance;
}

/** What a target puts into the sandbox of a process that depends on it. */
export interface SandboxRole {
  /**
   * Its own source files at their build-root paths (`file`, `shell_source`).
   * The sources of a whole closure are snapshotted together, as one tree.
   */
  readonly sources?: boolean;
  /** Anything else: a tree of files at their build-root paths (a command's outputs, a package). */
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

/** The `[test]` options a test rule honours. */
export interface TestSettings {
  /** `--test-force`: run even when a cached result exists (cache scope per-run). */
  readonly force: boolean;
  readonly timeoutsEnabled: boolean;
  readonly timeoutDefaultS: number | null;
  readonly timeoutMaximumS: number | null;
}

export interface TestOutcome {
  readonly executed: Executed;
  /** The timeout the test ran with (seconds), for the line of a test that hit it. */
  readonly timeoutS: number | null;
}

/** A process `trews run` starts in the workspace, attached to the client's terminal. */
export interface InteractiveProcess {
  /** argv[0] is an absolute path. */
  readonly argv: readonly string[];
  readonly env: Readonly<Record<string, string>>;
  /** Absolute. */
  readonly cwd: string;
  /** Removes what the rule made for the run (a chroot of execution dependencies); called however the run ends. */
  cleanup?(): Promise<void>;
}

export interface BuiltPackage {
  /** The package's files at their paths relative to the dist directory. */
  readonly tree: Digest;
  /** Those paths, sorted. */
  readonly files: readonly string[];
}

/**
 * The behaviour a backend gives one target type. Every part is optional: a
 * `file` only contributes itself; a `test_shell_command` is only a test.
 */
export interface TargetRules {
  readonly sandbox?: SandboxRole;
  test?(rc: RuleContext, t: Target, settings: TestSettings): Promise<TestOutcome>;
  /** `args` are those after `--` on the command line. */
  run?(rc: RuleContext, t: Target, args: readonly string[]): Promise<InteractiveProcess>;
  package?(rc: RuleContext, t: Target): Promise<BuiltPackage>;
}
