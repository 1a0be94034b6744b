// An esbuild plugin that makes modules of a bundle load on first use instead
// of when the bundle starts. A run of the in-process bundle (--no-daemon, CI)
// pays for everything its modules do at load, and the REAPI schemas are the
// dearest of it: booting the protobuf descriptors (ours and the well-known
// types') costs ~15 ms, while a cached local run needs few of them, or none.
//
// An import of a lazy module (outside the module itself and what it imports)
// is served by a facade with the same exports, generated from the real
// module's exports at build time:
// - a descriptor (a schema, enum, file or service descriptor of protobuf-es)
//   is a Proxy that loads the real module on first use, except for its `kind`
//   and `typeName`, known at build time (encodeCanonical compares typeNames);
// - a function calls the real one, loading the module first;
// - a TypeScript enum (an object of strings and numbers) and a constant
//   (number, string, boolean) are copies: data, no loading needed;
// - any other object (protoInt64) is a Proxy like a descriptor's, with no
//   field known ahead.
// The facade `require`s the real module, which esbuild then wraps in a
// function that runs it once, on that first call (a Node built-in is
// required by its name). A class (`new` and `instanceof` need the real one)
// and a default export are left out, so importing one fails the build; any
// other kind of export (a symbol) fails it at once: it has no faithful
// stand-in.
//
// Each load is recorded in globalThis[Symbol.for('trews.lazy-modules')] (the
// names of the modules loaded), which the tests read to check that a run that
// needs no schema loads none.
import { dirname, join, sep } from 'node:path';
import { pathToFileURL } from 'node:url';

const RUNTIME = `
const loaded = (globalThis[Symbol.for('trews.lazy-modules')] ??= []);
/** The real module, required once, recorded as loaded. */
export function lazyLoader(name, load) {
  let real;
  return () => {
    if (real === undefined) {
      real = load();
      loaded.push(name);
    }
    return real;
  };
}
/** A stand-in for a descriptor object: everything but its known fields comes from the real one. */
export function lazyDescriptor(load, name, known) {
  let real;
  const target = () => (real ??= load()[name]);
  return new Proxy({}, {
    get: (_, p) => (Object.hasOwn(known, p) ? known[p] : target()[p]),
    has: (_, p) => p in target(),
    ownKeys: () => Reflect.ownKeys(target()),
    getOwnPropertyDescriptor: (_, p) => {
      const d = Reflect.getOwnPropertyDescriptor(target(), p);
      // A proxy may report a property its (empty) target lacks only as configurable.
      if (d !== undefined) d.configurable = true;
      return d;
    },
    getPrototypeOf: () => Reflect.getPrototypeOf(target()),
    set: (_, p, v) => Reflect.set(target(), p, v),
    defineProperty: (_, p, d) => Reflect.defineProperty(target(), p, d),
    deleteProperty: (_, p) => Reflect.deleteProperty(target(), p),
  });
}
`;

const isEnumObject = (v) => Object.values(v).every((x) => typeof x === 'string' || typeof x === 'number');

/** The source of a facade for `exports` (the real module's namespace), loading it from `realPath`. */
function facadeSource(name, realPath, exports, defaultIsModule = false) {
  const lines = [
    "import { lazyLoader, lazyDescriptor } from 'trews-lazy-runtime';",
    `const load = lazyLoader(${JSON.stringify(name)}, () => require(${JSON.stringify(realPath)}));`,
  ];
  const bad = [];
  // A CommonJS module's default export is its module.exports, which is what require gives.
  if (defaultIsModule) lines.push('export default /* @__PURE__ */ lazyDescriptor(() => ({ module: load() }), "module", {});');
  for (const [key, value] of Object.entries(exports)) {
    // Left out (an import of it fails the build): a default export, a class
    // (`new` and `instanceof` need the real one), and what is not an identifier.
    if (key === 'default' || !/^[A-Za-z_$][\w$]*$/.test(key)) continue;
    if (typeof value === 'function' && (/^class\b/.test(Function.prototype.toString.call(value)) || /^[A-Z]/.test(key))) continue;
    if (typeof value === 'function') {
      lines.push(`export function ${key}(...args) { return load().${key}(...args); }`);
    } else if (typeof value === 'object' && value !== null && typeof value.kind === 'string') {
      const known = { kind: value.kind };
      if (typeof value.typeName === 'string') known.typeName = value.typeName;
      lines.push(`export const ${key} = /* @__PURE__ */ lazyDescriptor(load, ${JSON.stringify(key)}, ${JSON.stringify(known)});`);
    } else if (typeof value === 'object' && value !== null && isEnumObject(value)) {
      lines.push(`export const ${key} = ${JSON.stringify(value)};`);
    } else if (typeof value === 'object' && value !== null) {
      lines.push(`export const ${key} = /* @__PURE__ */ lazyDescriptor(load, ${JSON.stringify(key)}, {});`);
    } else if (typeof value === 'number' || typeof value === 'string' || typeof value === 'boolean') {
      lines.push(`export const ${key} = ${JSON.stringify(value)};`);
    } else {
      bad.push(`${key} (${typeof value})`);
    }
  }
  if (bad.length > 0) throw new Error(`lazy module ${name}: no faithful stand-in for ${bad.join(', ')}`);
  return lines.join('\n');
}

/**
 * The plugin. `modules`: for each lazy module, `filter` (a RegExp on the import
 * path), `importedFrom(importer)` (true when that importer gets the facade),
 * `name` (what the record of loads calls it; the import path by default),
 * `exportsFrom` (a file Node can import to learn its exports, when the real
 * module is TypeScript) and `defaultIsModule` (a CommonJS module imported by
 * its default export: the facade's default stands for its module.exports).
 */
export function lazyModules(modules) {
  return {
    name: 'lazy-modules',
    setup(b) {
      b.onResolve({ filter: /^trews-lazy-runtime$/ }, () => ({ path: 'runtime', namespace: 'trews-lazy' }));
      b.onLoad({ filter: /^runtime$/, namespace: 'trews-lazy' }, () => ({ contents: RUNTIME, loader: 'js' }));
      modules.forEach((m, i) => {
        b.onResolve({ filter: m.filter }, async (args) => {
          if (args.namespace === 'trews-lazy' || args.pluginData?.lazyReal || !m.importedFrom(args.importer)) return undefined;
          // One facade per import path (and where it resolves from): a filter may match several.
          return { path: `${i}:${args.path}`, namespace: 'trews-lazy', pluginData: { resolveDir: args.resolveDir, path: args.path } };
        });
        b.onLoad({ filter: new RegExp(`^${i}:`), namespace: 'trews-lazy' }, async (args) => {
          const { resolveDir, path } = args.pluginData;
          // Resolved as an import (not a require): the ES module build, the same file the real module's own importers get.
          const real = await b.resolve(path, { kind: 'import-statement', resolveDir, pluginData: { lazyReal: true } });
          if (real.errors.length > 0) return { errors: real.errors };
          // A Node built-in stays external: required by its name, at run time.
          const exports = await import(real.external ? path : pathToFileURL(m.exportsFrom ?? real.path).href);
          return { contents: facadeSource(m.name ?? path, real.external ? path : real.path, exports, m.defaultIsModule === true), loader: 'js', resolveDir };
        });
      });
    },
  };
}

/**
 * What trews' in-process bundle loads on first use: the REAPI schemas, and
 * protobuf-es with its well-known types (its index loads them all, and their
 * descriptors boot at load). The generated code and protobuf-es itself import
 * the real modules.
 */
export function trewsLazyModules(root) {
  const reapiDir = join(root, 'src', 'reapi');
  const own = (importer) => !importer.startsWith(join(reapiDir, 'gen') + sep) && !importer.includes(`${sep}node_modules${sep}@bufbuild${sep}`);
  return [
    {
      name: 'reapi-schemas',
      filter: /^\.\/schemas\.js$/,
      importedFrom: (importer) => dirname(importer) === reapiDir,
      // The compiled module (tsc runs before the bundle) says what it exports.
      exportsFrom: join(root, 'dist', 'src', 'reapi', 'schemas.js'),
    },
    { filter: /^@bufbuild\/protobuf(\/wkt)?$/, importedFrom: own },
    // Node built-ins that a run needs only for some goals (the graph page's
    // server, archives, processes), ~2.5 ms to load with what they load.
    // The remote client, loaded on demand already, imports classes (Agent), which a facade has not.
    { filter: /^node:(http|zlib|child_process)$/, importedFrom: (importer) => own(importer) && !importer.startsWith(join(root, 'src', 'remote') + sep) },
    // semver compiles ~50 regular expressions at load (~2 ms); only the JavaScript backend's dependency ranges use it.
    { filter: /^semver$/, importedFrom: own, defaultIsModule: true },
  ];
}
