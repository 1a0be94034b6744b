#!/usr/bin/env node
// Bundles the thin client (src/cli/client.ts) into dist/trews-client.cjs: one file
// that starts fast because Node loads and compiles one module instead of a few
// hundred. bin/trews.cjs runs it; the in-process runner is bundled the same way below
// (dist/trews-main.cjs), which the daemon runs too (bin/trewsd.cjs). The build fails if
// the bundle would import anything but Node's built-ins at run time.
import { build, transform } from 'esbuild';
import { readFileSync, writeFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { lazyModules, trewsLazyModules } from './lazy-modules.mjs';

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
    // bin/trews.cjs runs the bundle through vm.Script (for its code cache), where import() is unavailable.
    else if (imp.kind === 'dynamic-import') bad.push(`${file} uses import("${imp.path}"): use createRequire for a lazily loaded built-in`);
  }
}
if (bad.length > 0) {
  console.error(`bundle: the thin client must import only Node built-ins:\n  ${bad.join('\n  ')}`);
  process.exit(1);
}
const bytes = result.metafile.outputs[Object.keys(result.metafile.outputs).find((f) => f.endsWith('.cjs'))].bytes;
console.error(`bundle: dist/trews-client.cjs ${(bytes / 1024).toFixed(0)} KiB`);

// The in-process runner (src/cli/main.ts: --no-daemon, CI) as one CommonJS file
// too, dependencies included: loading dist/src as ES modules costs a run ~0.25 s
// of CPU (hundreds of files resolved, read, linked) where this costs ~0.05 s.
// Its lazily loaded parts (the remote client, gRPC, remote-server) stay lazy:
// esbuild turns each import() into a function that initializes those modules
// on first call. jsonc-parser goes in as its ES module build (its package main is
// a UMD build that requires its own files at run time, which a bundler cannot
// follow: seven more files to load on every run). Kept out: the native watcher;
// @grpc/grpc-js, required only when a process first needs a gRPC server, so
// that what a run loads stays visible (test/remote-http-e2e.test.ts).
const mainOut = join(root, 'dist', 'trews-main.cjs');
// `import jsonc from 'jsonc-parser'` (the sources' form, which Node's ES module loader
// needs for the UMD build) as the ES module build, its namespace as the default export.
const jsoncAsModule = {
  name: 'jsonc-parser-as-module',
  setup(b) {
    b.onResolve({ filter: /^jsonc-parser$/ }, () => ({ path: 'jsonc-parser', namespace: 'jsonc-as-module' }));
    b.onLoad({ filter: /.*/, namespace: 'jsonc-as-module' }, () => ({
      contents: "import * as all from 'jsonc-parser/lib/esm/main.js';\nexport * from 'jsonc-parser/lib/esm/main.js';\nexport default all;\n",
      resolveDir: root,
      loader: 'js',
    }));
  },
};
const mainResult = await build({
  entryPoints: [join(root, 'src/cli/main.ts')],
  outfile: mainOut,
  bundle: true,
  platform: 'node',
  format: 'cjs',
  define: { 'import.meta.url': '__trewsMainUrl' },
  // As if from dist/src/cli/main.js, where the unbundled module sits: a module that
  // finds a file relative to itself (goals/graph.ts: ../../graph-page.js) sits two
  // levels under dist/ as well. (__dirname is dist/ here, as bin/trews.cjs passes it.)
  banner: { js: 'const __trewsMainUrl = require("node:url").pathToFileURL(require("node:path").join(__dirname, "src", "cli", "main.js")).href;' },
  target: 'node20',
  external: ['@parcel/watcher', '@grpc/grpc-js', 'oxc-parser'],
  // The REAPI schemas and protobuf-es load on first use (scripts/lazy-modules.mjs).
  plugins: [jsoncAsModule, lazyModules(trewsLazyModules(root))],
  // A name a facade left out (a class), re-exported, would be undefined at run time: an error, not a warning.
  logOverride: { 'import-is-undefined': 'error' },
  // Readable lines: an internal error's stack in the log points at real code.
  minifySyntax: true,
  legalComments: 'none',
  sourcemap: 'linked',
  metafile: true,
  logLevel: 'warning',
});
await asciiOnly(mainOut);
await asciiOnly(outfile);
const mainBytes = mainResult.metafile.outputs[Object.keys(mainResult.metafile.outputs).find((f) => f.endsWith('.cjs'))].bytes;
console.error(`bundle: dist/trews-main.cjs ${(mainBytes / 1024).toFixed(0)} KiB`);
{
  const allowed = new Set([...builtins, '@parcel/watcher', '@grpc/grpc-js', 'oxc-parser']);
  const bad = [];
  for (const [file, out] of Object.entries(mainResult.metafile.outputs)) {
    for (const imp of out.imports) {
      if (!allowed.has(imp.path)) bad.push(`${file} imports ${imp.path}`);
      // bin/trews.cjs runs the bundle through vm.Script (for its code cache), where import() is unavailable.
      else if (imp.kind === 'dynamic-import') bad.push(`${file} uses import("${imp.path}"): use createRequire`);
    }
  }
  if (bad.length > 0) {
    console.error(`bundle: the in-process runner must leave only built-ins and its three externals to Node, and never by import():\n  ${bad.join('\n  ')}`);
    process.exit(1);
  }
}

/**
 * Makes a bundle ASCII: bin/code-cache.cjs reads an ASCII file as a one-byte string,
 * ~20 ms faster to read and compile on every run than the two-byte string one
 * `→` in a comment makes of the whole file. esbuild escapes every other
 * character in strings, regular expressions and names (its default charset),
 * so what is left is in comments: each UTF-16 unit of it becomes `?`, which
 * keeps every column where the source map says it is. The bundle with
 * comments dropped must read the same before and after, or the build fails.
 */
async function asciiOnly(file) {
  const text = readFileSync(file, 'utf8');
  // eslint-disable-next-line no-control-regex
  const ascii = text.replace(/[^\x00-\x7f]/g, '?');
  if (ascii === text) return;
  const bare = async (code) => (await transform(code, { minifyWhitespace: true, legalComments: 'none', charset: 'ascii', loader: 'js' })).code;
  if ((await bare(text)) !== (await bare(ascii))) {
    console.error(`bundle: ${file} holds a character outside ASCII that is not in a comment (esbuild should have escaped it)`);
    process.exit(1);
  }
  writeFileSync(file, ascii);
}

/**
 * A page script for the browser, one IIFE that a goal inlines into the HTML
 * it serves or writes (no CDN, no request at run time). Inlined in a
 * <script> element, it must hold neither `</script` (esbuild escapes it in
 * strings) nor `<!--`.
 */
async function bundlePage(entry, name, page) {
  const result = await build({
    entryPoints: [join(root, entry)],
    bundle: true,
    platform: 'browser',
    format: 'iife',
    target: 'es2020',
    minify: true,
    legalComments: 'none',
    write: false,
    logLevel: 'warning',
  });
  const text = result.outputFiles[0].text;
  if (/<\/script|<!--/i.test(text)) {
    console.error(`bundle: dist/${name} holds \`</script\` or \`<!--\` and cannot be inlined into the ${page}`);
    process.exit(1);
  }
  writeFileSync(join(root, 'dist', name), text);
  console.error(`bundle: dist/${name} ${(text.length / 1024).toFixed(0)} KiB`);
}

// The page of `trews graph`: cytoscape and dagre with the page's code.
await bundlePage('src/graph-page/app/main.ts', 'graph-page.js', 'graph page');
// The timeline page of `trews graph --runs`: plain SVG, no library.
await bundlePage('src/graph-page/app/timeline-main.ts', 'timeline-page.js', 'timeline page');
