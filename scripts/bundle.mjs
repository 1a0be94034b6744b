#!/usr/bin/env node
// Bundles the thin client (src/cli/client.ts) into dist/trews-client.js: one file
// that starts fast because Node loads and compiles one module instead of a few
// hundred. bin/trews imports it; the rest of trews (the in-process runner, the
// daemon) stays in dist/src and is loaded only when needed. The build fails if
// the bundle would import anything but Node's built-ins at run time.
import { build } from 'esbuild';
import { writeFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
// CommonJS, not ESM: Node loads a CommonJS file and the built-ins it requires
// several milliseconds faster than the same code as an ES module (no module
// graph to link, no ESM facades for the built-ins), and start-up is the budget.
const outfile = join(root, 'dist', 'trews-client.cjs');

// trews' own modules do nothing when loaded but declare things, so whatever the
// client does not use can be dropped, with the packages only that code imports.
const ownModulesArePure = {
  name: 'own-modules-are-pure',
  setup(b) {
    b.onResolve({ filter: /^\.\.?\// }, async (args) => {
      if (args.pluginData?.resolving) return undefined;
      const r = await b.resolve(args.path, { kind: args.kind, resolveDir: args.resolveDir, pluginData: { resolving: true } });
      if (r.errors.length > 0 || !r.path.startsWith(join(root, 'src'))) return r;
      return { ...r, sideEffects: false };
    });
  },
};

const result = await build({
  entryPoints: [join(root, 'src/cli/client.ts')],
  outfile,
  bundle: true,
  platform: 'node',
  format: 'cjs',
  // The sources are ES modules; where they ask for import.meta.url, give them this file's.
  define: { 'import.meta.url': '__trewsClientUrl' },
  banner: { js: 'const __trewsClientUrl = require("node:url").pathToFileURL(__filename).href;' },
  target: 'node20',
  // The native watcher is only ever loaded by the daemon (by a dynamic import the client never reaches).
  external: ['@parcel/watcher'],
  minifySyntax: true,
  minifyWhitespace: true,
  legalComments: 'none',
  sourcemap: 'linked',
  metafile: true,
  logLevel: 'warning',
  plugins: [ownModulesArePure],
});

const builtins = new Set([...builtinModules, ...builtinModules.map((m) => `node:${m}`)]);
const bad = [];
for (const [file, out] of Object.entries(result.metafile.outputs)) {
  for (const imp of out.imports) {
    if (!builtins.has(imp.path)) bad.push(`${file} imports ${imp.path}${imp.kind === 'dynamic-import' ? ' (dynamically)' : ''}`);
    // bin/trews runs the bundle through vm.Script (for its code cache), where import() is unavailable.
    else if (imp.kind === 'dynamic-import') bad.push(`${file} uses import("${imp.path}"): use createRequire for a lazily loaded built-in`);
  }
}
if (bad.length > 0) {
  console.error(`bundle: the thin client must import only Node built-ins:\n  ${bad.join('\n  ')}`);
  process.exit(1);
}
const bytes = result.metafile.outputs[Object.keys(result.metafile.outputs).find((f) => f.endsWith('.cjs'))].bytes;
console.error(`bundle: dist/trews-client.cjs ${(bytes / 1024).toFixed(0)} KiB`);

// The page of `trews graph`: cytoscape and dagre with the page's code, one
// browser script that the goal inlines into the HTML it serves or writes (no
// CDN, no request at run time). Inlined in a <script> element, it must hold
// neither `</script` (esbuild escapes it in strings) nor `<!--`.
const page = await build({
  entryPoints: [join(root, 'src/graph-page/app/main.ts')],
  outfile: join(root, 'dist', 'graph-page.js'),
  bundle: true,
  platform: 'browser',
  format: 'iife',
  target: 'es2020',
  minify: true,
  legalComments: 'none',
  write: false,
  metafile: true,
  logLevel: 'warning',
});
const pageText = page.outputFiles[0].text;
if (/<\/script|<!--/i.test(pageText)) {
  console.error('bundle: dist/graph-page.js holds `</script` or `<!--` and cannot be inlined into the graph page');
  process.exit(1);
}
writeFileSync(join(root, 'dist', 'graph-page.js'), pageText);
console.error(`bundle: dist/graph-page.js ${(pageText.length / 1024).toFixed(0)} KiB`);

// The timeline page of `trews graph --runs`: plain SVG, no library; inlined the same way.
const timeline = await build({
  entryPoints: [join(root, 'src/graph-page/app/timeline-main.ts')],
  bundle: true,
  platform: 'browser',
  format: 'iife',
  target: 'es2020',
  minify: true,
  legalComments: 'none',
  write: false,
  logLevel: 'warning',
});
const timelineText = timeline.outputFiles[0].text;
if (/<\/script|<!--/i.test(timelineText)) {
  console.error('bundle: dist/timeline-page.js holds `</script` or `<!--` and cannot be inlined into the timeline page');
  process.exit(1);
}
writeFileSync(join(root, 'dist', 'timeline-page.js'), timelineText);
console.error(`bundle: dist/timeline-page.js ${(timelineText.length / 1024).toFixed(0)} KiB`);
