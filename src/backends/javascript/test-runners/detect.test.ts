import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { detectTestRunner, explainTestRunner, shellWords, type DetectedTestRunner } from './index.js';

function detect(testScript: string | undefined, dependencies: Record<string, string> = {}): DetectedTestRunner | null {
  return detectTestRunner({ ...(testScript !== undefined ? { testScript } : {}), dependencies });
}

function summary(d: DetectedTestRunner | null): unknown {
  return d === null ? null : { runner: d.runner.name, extraArgs: d.extraArgs, paths: d.paths, env: d.env };
}

function why(testScript: string | undefined, dependencies: Record<string, string> = {}): string {
  const d = explainTestRunner({ ...(testScript !== undefined ? { testScript } : {}), dependencies });
  assert.equal(d.ok, false, `detected ${JSON.stringify(d)}`);
  return d.ok ? '' : d.reason;
}

describe('shellWords', () => {
  test('quotes, escapes and blanks as sh splits them', () => {
    assert.deepEqual(shellWords(`jest --ci 'src/**/*.test.ts' "a b" c\\ d e"f"'g' ""`), { ok: true, words: ['jest', '--ci', 'src/**/*.test.ts', 'a b', 'c d', 'efg', ''] });
    assert.deepEqual(shellWords(`mocha "say \\"hi\\" \\n"`), { ok: true, words: ['mocha', 'say "hi" \\n'] });
    assert.deepEqual(shellWords('  vitest   run # a comment'), { ok: true, words: ['vitest', 'run'] });
    assert.deepEqual(shellWords('a#b'), { ok: true, words: ['a#b'] });
  });

  test('what is more than one simple command with literal words is refused, with why', () => {
    const reason = (s: string): string => {
      const r = shellWords(s);
      assert.equal(r.ok, false, s);
      return r.ok ? '' : r.reason;
    };
    assert.match(reason('npm run build && jest'), /operator `&&`/);
    assert.match(reason('jest || true'), /operator `\|\|`/);
    assert.match(reason('jest; echo done'), /operator `;`/);
    assert.match(reason('jest | tee out'), /operator `\|`/);
    assert.match(reason('jest > out.txt'), /operator `>`/);
    assert.match(reason('jest $ARGS'), /expands `\$`/);
    assert.match(reason('jest "$ARGS"'), /inside double quotes/);
    assert.match(reason('jest `cat args`'), /command substitution/);
    assert.match(reason("jest 'open"), /single quote is not closed/);
    assert.match(reason('jest "open'), /double quote is not closed/);
    assert.match(reason('jest \\'), /backslash/);
    assert.match(reason('jest\nmocha'), /several lines/);
  });
});

describe('detectTestRunner', () => {
  test('node --test, its flags kept, its reporters and watch dropped, its paths named', () => {
    assert.deepEqual(summary(detect('node --test dist/')), { runner: 'node', extraArgs: [], paths: ['dist/'], env: {} });
    assert.deepEqual(summary(detect('node --import tsx --test --test-reporter=dot --test-reporter-destination stdout --watch --test-concurrency 1 "src/**/*.test.ts"')), {
      runner: 'node',
      extraArgs: ['--import', 'tsx', '--test-concurrency', '1'],
      paths: ['src/**/*.test.ts'],
      env: {},
    });
    assert.deepEqual(summary(detect('node --test --experimental-test-coverage --enable-source-maps')), { runner: 'node', extraArgs: ['--enable-source-maps'], paths: [], env: {} });
  });

  test('tsx --test is node:test with tsx as its loader', () => {
    assert.deepEqual(summary(detect('tsx --test src/*.test.ts')), { runner: 'node', extraArgs: ['--import', 'tsx'], paths: ['src/*.test.ts'], env: {} });
  });

  test('node without --test runs a script, not tests', () => {
    assert.match(why('node test/run.js'), /runs node without `--test`/);
    assert.match(why('tsx src/main.ts'), /without `--test`/);
  });

  test('vitest in its forms: run, watch, bare, through npx/pnpm/yarn, with variables', () => {
    for (const script of ['vitest run', 'vitest', 'vitest watch', 'npx vitest run', 'npx --yes vitest run', 'pnpm vitest run', 'pnpm exec vitest run', 'yarn vitest run', 'npm exec -- vitest run']) {
      assert.deepEqual(summary(detect(script)), { runner: 'vitest', extraArgs: [], paths: [], env: {} }, script);
    }
    assert.deepEqual(summary(detect('cross-env NODE_ENV=test TZ=UTC vitest run --config vitest.unit.ts --coverage --reporter=verbose --environment jsdom src/')), {
      runner: 'vitest',
      extraArgs: ['--config', 'vitest.unit.ts', '--environment', 'jsdom'],
      paths: ['src/'],
      env: { NODE_ENV: 'test', TZ: 'UTC' },
    });
    assert.match(why('vitest bench'), /runs `vitest bench`, not the tests/);
  });

  test('jest: --ci kept; json, coverage, watch and path patterns are trews\' to set', () => {
    assert.deepEqual(summary(detect('CI=1 jest --ci --runInBand --coverage --json --outputFile=x.json --watchAll --testPathPattern unit -c jest.config.js')), {
      runner: 'jest',
      extraArgs: ['--ci', '--runInBand', '-c', 'jest.config.js'],
      paths: ['unit'],
      env: { CI: '1' },
    });
  });

  test('mocha: its reporter is trews\'; --spec names paths; --require kept with its value', () => {
    assert.deepEqual(summary(detect("mocha -r ts-node/register --reporter dot --parallel --jobs 4 --spec 'test/**/*.spec.ts' --timeout 5000")), {
      runner: 'mocha',
      extraArgs: ['-r', 'ts-node/register', '--timeout', '5000'],
      paths: ['test/**/*.spec.ts'],
      env: {},
    });
  });

  test('arguments after -- are paths even when they look like flags', () => {
    assert.deepEqual(summary(detect('mocha --bail -- --odd.test.js')), { runner: 'mocha', extraArgs: ['--bail'], paths: ['--odd.test.js'], env: {} });
  });

  test('compound, unknown or wrapped scripts are not guessed at, and say why', () => {
    assert.match(why('npm run build && jest'), /`npm run build && jest`: it uses the shell operator `&&`/);
    assert.match(why('turbo run test'), /runs `turbo`, which is not a test runner trews knows/);
    assert.match(why('echo "Error: no test specified" && exit 1'), /operator `&&`/);
    assert.match(why('c8 node --test'), /runs `c8`/);
    assert.match(why('npx -p jest jest'), /passes `-p` to npx/);
    assert.match(why('cross-env-shell "jest"'), /runs `cross-env-shell`/);
    assert.match(why('NODE_ENV=test'), /runs nothing/);
  });

  test('no test script: the one runner among the dependencies, else nothing', () => {
    assert.deepEqual(summary(detect(undefined, { vitest: '^4.0.0', typescript: '^5' })), { runner: 'vitest', extraArgs: [], paths: [], env: {} });
    assert.deepEqual(summary(detect('   ', { jest: '^30' })), { runner: 'jest', extraArgs: [], paths: [], env: {} });
    assert.match(why(undefined, {}), /no test script and depends on none of vitest, jest, mocha/);
    assert.match(why(undefined, { jest: '1', mocha: '2' }), /depends on jest and mocha/);
  });

  test('what was detected says how, for a debug line', () => {
    assert.equal(detect('jest --ci')?.how, 'its test script `jest --ci`');
    assert.equal(detect(undefined, { mocha: '^10' })?.how, 'its dependency on mocha (it has no test script)');
  });
});
