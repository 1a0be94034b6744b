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

export interface JsSourcesConfig {
  readonly testPatterns: readonly string[];
  readonly unresolvedImports: UnresolvedImports;
}

/** `[javascript] test_patterns` and `unresolved_imports`, as the keys that read them see them. */
export class JsSourcesConfigKey implements Key<JsSourcesConfig> {
  readonly id = 'js-sources-config';
  describe(): string {
    return `[${JAVASCRIPT_SCOPE}] test_patterns and unresolved_imports`;
  }
  async compute(ctx: ComputeContext): Promise<JsSourcesConfig> {
    const o = await ctx.get(new ScopeOptionsKey(JAVASCRIPT_SCOPE));
    return { testPatterns: [...o.list('test_patterns')], unresolvedImports: o.enum<UnresolvedImports>('unresolved_imports') };
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
export function sourceFileTargets(dir: string, packageTarget: string, packageSources: readonly string[], testPatterns: readonly string[], location: SyntheticTarget['location']): SyntheticTarget[] {
  const prefix = dir === '' ? 0 : dir.length + 1;
  const isTest = testPatterns.length === 0 ? () => false : dotGlobs(testPatterns);
  const out: SyntheticTarget[] = [];
  for (const f of packageSources) {
    if (!isSourceFile(f)) continue;
    const rel = f.slice(prefix);
    out.push({ type: isTest(rel) ? JAVASCRIPT_TEST : JAVASCRIPT_SOURCE, name: packageTarget, file: rel, fields: {}, location, sources: [f], sourcePatterns: [f] });
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
  help: fileHelp(`A test file (one that \`[${JAVASCRIPT_SCOPE}] test_patterns\` matches: by default ${DEFAULT_TEST_PATTERNS.map((p) => `\`${p}\``).join(', ')}, relative to its package)`),
  fields: [],
};
