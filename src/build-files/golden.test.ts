import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { renderFailure } from '../ui/index.js';
import { parseBuildFile } from './index.js';

// Error output is tested as text (DESIGN.md). Each testdata/errors/<case>.BUILD is
// parsed and its rendered error compared with <case>.golden; UPDATE_GOLDEN=1 rewrites them.

const SYMBOLS = new Set(['files', 'resources', 'target', 'python_sources', 'python_tests', 'shell_sources']);
const UPDATE = process.env.UPDATE_GOLDEN === '1';

/** Compiled tests run from dist/, but the cases live in the source tree. */
function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error('no package.json above the test file');
    dir = up;
  }
  return dir;
}

const REL_DIR = 'src/build-files/testdata/errors';
const dir = join(repoRoot(), REL_DIR);
const cases = readdirSync(dir)
  .filter((f) => f.endsWith('.BUILD'))
  .map((f) => f.slice(0, -'.BUILD'.length))
  .sort();

test('there are enough golden cases', () => {
  assert.ok(cases.length >= 25, `only ${cases.length} cases in ${REL_DIR}`);
});

test('every golden file has its input', () => {
  const orphans = readdirSync(dir).filter((f) => f.endsWith('.golden') && !cases.includes(f.slice(0, -'.golden'.length)));
  assert.deepEqual(orphans, []);
});

for (const name of cases) {
  test(`golden: ${name}`, () => {
    const input = readFileSync(join(dir, `${name}.BUILD`), 'utf8');
    const r = parseBuildFile(`${REL_DIR}/${name}.BUILD`, input, SYMBOLS);
    const actual = r.ok ? '(no error)\n' : `[${r.failure.reason}]\n${renderFailure(r.failure)}`;
    const goldenPath = join(dir, `${name}.golden`);
    if (UPDATE) {
      writeFileSync(goldenPath, actual);
      return;
    }
    assert.ok(existsSync(goldenPath), `${goldenPath} is missing; run the tests with UPDATE_GOLDEN=1 to create it`);
    assert.equal(actual, readFileSync(goldenPath, 'utf8'));
  });
}
