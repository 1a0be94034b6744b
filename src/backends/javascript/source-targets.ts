import { dotGlobs } from './glob-memo.js';
import type { ComputeContext, Key } from '../../engine/index.js';
import { ScopeOptionsKey } from '../api/index.js';
import type { SyntheticTarget, TargetType } from '../../targets/index.js';
import { JAVASCRIPT_SCOPE } from './pipeline.js';

export const JAVASCRIPT_SOURCE = 'javascript_source';
export const JAVASCRIPT_TEST = 'javascript_test';

/** Extensions of the files that get a target of their own: what Node, TypeScript and the bundlers load as modules. */
export const SOURCE_EXTENSIONS: readonly string[] = ['.js', '.mjs', '.cjs', '.jsx', '.ts', '.mts', '.cts', '.tsx'];

/** The test runners' conventions (jest's and vitest's `*.test.*`/`*.spec.*`/`__tests__`, mocha's and node:test's `test/`), relative to the package. */
export const DEFAULT_TEST_PATTERNS: readonly string[] = ['**/*.test.*', '**/*.spec.*', '**/__tests__/**', 'test/**'];

export type UnresolvedImports = 'warn' | 'error';

export type TestGranularity = 'auto' | 'file' | 'package';

export interface JsSourcesConfig {
  readonly testPatterns: readonly string[];
  readonly unresolvedImports: UnresolvedImports;
  /** `[javascript] test_granularity`: whether `trews test` runs each test file (`file`), each package's `test` script (`package`), or files where the runner is known (`auto`). */
  readonly testGranularity: TestGranularity;
  /** `[javascript] test_runner`: the runner of every package's test files; null: detected from its `test` script. */
  readonly testRunner: string | null;
}

/** `[javascript] test_patterns` and `unresolved_imports`, as the keys that read them see them. */
export class JsSourcesConfigKey implements Key<JsSourcesConfig> {
  readonly id = 'js-sources-config';
  describe(): string {
    return `[${JAVASCRIPT_SCOPE}] test_patterns, unresolved_imports, test_granularity and test_runner`;
  }
  async compute(ctx: ComputeContext): Promise<JsSourcesConfig> {
    const o = await ctx.get(new ScopeOptionsKey(JAVASCRIPT_SCOPE));
    const runner = o.enum<string>('test_runner');
    return {
      testPatterns: [...o.list('test_patterns')],
      unresolvedImports: o.enum<UnresolvedImports>('unresolved_imports'),
      testGranularity: o.enum<TestGranularity>('test_granularity'),
      testRunner: runner === 'auto' ? null : runner,
    };
  }
}

export function isSourceFile(path: string): boolean {
  const dot = path.lastIndexOf('.');
  return dot > path.lastIndexOf('/') && SOURCE_EXTENSIONS.includes(path.slice(dot));
}

/**
 * A target per source file of a package (Pants' `javascript_sources`,
 * `typescript_sources` and `javascript_tests` generators, without the BUILD
 * file): `packages/a/src/x.ts:../../a`, generated from the package's target
 * `packages/a:a`, a test when a test pattern matches it. One target per test
 * file is what lets a test goal run and cache each file as its own process.
 */
export function sourceFileTargets(
  dir: string,
  packageTarget: string,
  packageSources: readonly string[],
  testPatterns: readonly string[],
  location: SyntheticTarget['location'],
  tests: { perFile: boolean; runner: string | null; batchTag?: string | null } = { perFile: false, runner: null },
): SyntheticTarget[] {
  const prefix = dir === '' ? 0 : dir.length + 1;
  const isTest = testPatterns.length === 0 ? () => false : dotGlobs(testPatterns);
  const out: SyntheticTarget[] = [];
  for (const f of packageSources) {
    if (!isSourceFile(f)) continue;
    const rel = f.slice(prefix);
    const test = isTest(rel);
    // A test file runs as its own test only when its package tests per file; otherwise its package's `test` script runs it.
    const fields: Record<string, string | boolean | null> = test ? { runner: tests.runner, skip_tests: !tests.perFile, batch_compatibility_tag: tests.batchTag ?? null } : {};
    out.push({ type: test ? JAVASCRIPT_TEST : JAVASCRIPT_SOURCE, name: packageTarget, file: rel, fields, location, sources: [f], sourcePatterns: [f] });
  }
  return out;
}

const fileHelp = (what: string): string =>
  [
    `${what}, inferred for every file of a workspace package with one of the extensions ${SOURCE_EXTENSIONS.join(' ')} (no BUILD file needed), outside node_modules and the outputs of its scripts.`,
    'Addressed as a file generated from its package\'s target (`packages/a/src/x.ts:../../a`), so `trews list packages/a/src/x.ts` names it.',
    'It depends on what its imports resolve to: `import`, `export … from`, `import type`, `import()` and `require()` with a literal, `/// <reference path>`, by Node\'s and TypeScript\'s rules (README of the javascript backend); `[javascript] unresolved_imports` says whether an import that resolves to nothing is a warning or an error.',
  ].join(' ');

export const javascriptSourceTarget: TargetType = {
  alias: JAVASCRIPT_SOURCE,
  help: fileHelp('A JavaScript or TypeScript source file'),
  fields: [],
};

export const javascriptTestTarget: TargetType = {
  alias: JAVASCRIPT_TEST,
  help: [
    fileHelp(`A test file (one that \`[${JAVASCRIPT_SCOPE}] test_patterns\` matches: by default ${DEFAULT_TEST_PATTERNS.map((p) => `\`${p}\``).join(', ')}, relative to its package)`),
    `\`trews test\` runs it as its own cached process when its package tests per file (\`[${JAVASCRIPT_SCOPE}] test_granularity\`), with the package's runner (node:test, vitest, jest, mocha), over the files its imports reach.`,
  ].join(' '),
  fields: [
    { name: 'runner', type: { kind: 'string' }, default: null, help: `Inferred: the test runner of its package (\`[${JAVASCRIPT_SCOPE}] test_runner\`, else read from the package's \`test\` script); null when none is known.` },
    {
      name: 'skip_tests',
      type: { kind: 'bool' },
      default: false,
      help: `Inferred: true when its package's \`test\` script runs its tests instead (\`[${JAVASCRIPT_SCOPE}] test_granularity\`, or no runner known).`,
    },
    {
      name: 'batch_compatibility_tag',
      type: { kind: 'string' },
      default: null,
      help: 'Test files of one package with the same tag (and runner) may run in one process, up to `[test] batch_size` files, as Pants batches them; each file\'s outcome is its own cases. Unset: the file runs alone. Set it from the package\'s BUILD file: `package_json(test_batch_compatibility_tag="x")`.',
    },
  ],
};
