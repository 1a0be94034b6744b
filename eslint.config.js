// Lint: typescript-eslint's recommended rules plus the layering of DESIGN.md.
// Each folder under src/ may import only the folders below it, and only through
// their index.ts; the table below is the single statement of that order.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/** folder → folders it may import (besides itself and core). */
const LAYERS = {
  core: [],
  engine: [],
  'build-files': [],
  options: ['build-files'],
  fs: ['engine'],
  store: ['fs', 'engine', 'reapi'],
  reapi: [],
  exec: ['store', 'fs', 'engine', 'options', 'reapi'],
  targets: ['engine', 'fs', 'build-files', 'options'],
  'remote/client': ['exec', 'store', 'fs', 'engine', 'options', 'reapi'],
  'remote/server': ['exec', 'store', 'fs', 'engine', 'options', 'reapi'],
  ui: [],
  // The graph page: plain data and pure functions, and app/ for the browser (bundled by scripts/bundle.mjs).
  'graph-page': [],
  backends: ['targets', 'exec', 'store', 'fs', 'engine', 'options', 'build-files', 'ui', 'reapi'],
  runtime: ['backends', 'targets', 'exec', 'store', 'fs', 'engine', 'options', 'ui', 'reapi'],
  goals: ['graph-page', 'runtime', 'backends', 'targets', 'exec', 'store', 'fs', 'engine', 'options', 'build-files', 'ui', 'reapi', 'remote/client'],
  'daemon/protocol': [],
  // The daemon serves the runner (cli) behind a socket: it needs its protocol, file-system rules, options,
  // and exec's process groups (to end the children of a daemon that was killed), nothing else of a run.
  daemon: ['daemon/protocol', 'exec', 'fs', 'options'],
  cli: ['daemon', 'daemon/protocol', 'goals', 'runtime', 'backends', 'targets', 'exec', 'store', 'fs', 'engine', 'options', 'build-files', 'ui', 'remote/client', 'remote/server', 'reapi'],
};

const ALL = Object.keys(LAYERS);

function layerRules(folder) {
  const allowed = new Set([folder, 'core', ...LAYERS[folder]]);
  // A nested folder (remote/client) may use its parent's siblings only as listed.
  const forbidden = ALL.filter((f) => !allowed.has(f) && !(f.startsWith(`${folder}/`)) && f !== folder.split('/')[0]);
  const patterns = forbidden.map((f) => ({
    group: [`**/src/${f}`, `**/src/${f}/**`, ...relativeForms(folder, f)],
    message: `src/${folder} must not import src/${f} (DESIGN.md: dependencies point one way).`,
  }));
  // Across folders, only index.js is public.
  patterns.push({
    // `../x/index.js` and `../reapi/index.js` are public; anything else in another folder is not.
    regex: '^(\\.\\./)+(?![a-z-]+/index\\.js$)(?!(remote|daemon)/[a-z-]+/index\\.js$)[a-z-]+/.+',
    message: 'import another folder only through its index.ts (DESIGN.md: each folder exposes its API through an index.ts).',
  });
  return patterns;
}

function relativeForms(from, to) {
  const depth = from.split('/').length;
  const up = '../'.repeat(depth);
  const forms = [`${up}${to}`, `${up}${to}/**`, `${up}../${to}/**`];
  const [fromTop] = from.split('/');
  const [toTop, toSub] = to.split('/');
  if (depth === 2 && toSub !== undefined && fromTop === toTop) forms.push(`../${toSub}`, `../${toSub}/**`);
  return forms;
}

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'src/reapi/gen/**', 'examples/**', 'bench/out/**', '**/testdata/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
      'no-constant-condition': ['error', { checkLoops: false }],
    },
  },
  {
    files: ['scripts/**/*.mjs', 'bin/**', 'eslint.config.js', 'bench/**/*.mjs'],
    languageOptions: { globals: { process: 'readonly', console: 'readonly', Buffer: 'readonly' } },
  },
  {
    // The Node client's entry is CommonJS on purpose (bin/package.json): it starts sooner than an ES module.
    files: ['bin/**/*.cjs'],
    languageOptions: { sourceType: 'commonjs', globals: { require: 'readonly', __dirname: 'readonly' } },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  ...ALL.map((folder) => ({
    files: [`src/${folder}/**/*.ts`],
    ignores: [
      '**/*.test.ts',
      ...ALL.filter((f) => f.startsWith(`${folder}/`)).map((f) => `src/${f}/**/*.ts`),
    ],
    rules: { 'no-restricted-imports': ['error', { patterns: layerRules(folder) }] },
  })),
);
