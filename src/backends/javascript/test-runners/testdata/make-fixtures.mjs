#!/usr/bin/env node
// Makes the vitest, jest and mocha report fixtures the parsers' tests read: installs the
// runners (the versions below) from the npm registry into a fixed directory standing for a
// sandbox, copies each demo suite (<runner>/suite/) in as packages/<runner>-demo, runs the
// exact command `testRunnerNamed(<runner>).command(...)` gives (from dist/: `npm run build`
// first), and keeps the reports and a runs.json saying the command, the cwd, the version
// and the exit code. CI never runs this; the fixtures are committed.
//   node src/backends/javascript/test-runners/testdata/make-fixtures.mjs
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const VERSIONS = { vitest: '4.1.12', '@vitest/coverage-v8': '4.1.12', jest: '30.5.2', mocha: '12.0.3' };
const SANDBOX = '/tmp/trews-fixture-sandbox';
const here = dirname(fileURLToPath(import.meta.url));
const repo = join(here, '../../../../..');
const { testRunnerNamed } = await import(pathToFileURL(join(repo, 'dist/src/backends/javascript/test-runners/index.js')).href);

rmSync(SANDBOX, { recursive: true, force: true });
mkdirSync(SANDBOX, { recursive: true });
writeFileSync(join(SANDBOX, 'package.json'), JSON.stringify({ name: 'fixture-sandbox', private: true, devDependencies: VERSIONS }, null, 2));
const install = spawnSync('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline'], { cwd: SANDBOX, stdio: 'inherit' });
if (install.status !== 0) process.exit(1);

const { NODE_TEST_CONTEXT: _, NODE_OPTIONS: __, ...baseEnv } = process.env;
const env = { ...baseEnv, PATH: `${join(SANDBOX, 'node_modules/.bin')}:${process.env.PATH}`, CI: 'true', NO_COLOR: '1', FORCE_COLOR: '0' };

const RUNS = {
  vitest: [
    { name: 'all', files: ['tests/math.test.js', 'tests/hook.test.js', 'tests/load-error.test.js'], coverage: true },
    { name: 'load-error', files: ['tests/load-error.test.js'] },
  ],
  jest: [
    { name: 'all', files: ['tests/math.test.js', 'tests/hook.test.js', 'tests/load-error.test.js'], coverage: true },
    { name: 'load-error', files: ['tests/load-error.test.js'] },
  ],
  mocha: [
    { name: 'all', files: ['test/math.test.js', 'test/hook.test.js'] },
    { name: 'load-error', files: ['test/load-error.test.js'] },
  ],
};

for (const [runnerName, runs] of Object.entries(RUNS)) {
  const runner = testRunnerNamed(runnerName);
  const pkgDir = `packages/${runnerName}-demo`;
  const cwd = join(SANDBOX, pkgDir);
  cpSync(join(here, runnerName, 'suite'), cwd, { recursive: true });
  const version = JSON.parse(readFileSync(join(SANDBOX, 'node_modules', runner.packageName, 'package.json'), 'utf8')).version;
  const record = [];
  for (const run of runs) {
    const ext = runnerName === 'mocha' ? 'jsonl' : 'json';
    const cmd = runner.command(run.files, { reportFile: `out/${run.name}.${ext}`, ...(run.coverage ? { coverageFile: `out/coverage-${run.name}/lcov.info` } : {}) });
    rmSync(join(cwd, 'out'), { recursive: true, force: true });
    mkdirSync(join(cwd, 'out'), { recursive: true });
    for (const [f, text] of Object.entries(cmd.sandboxFiles)) writeFileSync(join(cwd, f), text);
    const r = spawnSync(cmd.argv[0], cmd.argv.slice(1), { cwd, env: { ...env, ...cmd.env }, encoding: 'utf8' });
    const outputs = {};
    for (const f of cmd.outputFiles) {
      const at = join(cwd, f);
      const keep = f === cmd.coverageFile ? `${run.name}.lcov` : `${run.name}.${ext}`;
      if (existsSync(at)) {
        cpSync(at, join(here, runnerName, keep));
        outputs[f] = keep;
      } else {
        rmSync(join(here, runnerName, keep), { force: true });
        outputs[f] = null;
      }
    }
    writeFileSync(join(here, runnerName, `${run.name}.stdout.txt`), r.stdout);
    writeFileSync(join(here, runnerName, `${run.name}.stderr.txt`), r.stderr);
    record.push({ run: run.name, package: runner.packageName, version, node: process.version, sandboxRoot: SANDBOX, cwd: pkgDir, argv: cmd.argv, exitCode: r.status, outputs });
    console.log(`${runnerName} ${run.name}: exit ${r.status}, ${JSON.stringify(outputs)}`);
  }
  writeFileSync(join(here, runnerName, 'runs.json'), `${JSON.stringify(record, null, 2)}\n`);
}
