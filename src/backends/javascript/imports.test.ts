import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseImports, referenceAttribute } from './imports.js';

const specs = (path: string, text: string): string[] => parseImports(path, text).imports.map((i) => `${i.line}:${i.col} ${i.kind}${i.typeOnly ? ' type' : ''} ${i.specifier}`);

describe('parseImports', () => {
  it('finds every import form, with its line and column', () => {
    const text = [
      '/// <reference path="./globals.d.ts" />',
      "import a from './a';",
      "import type { B } from './b';",
      "import { type C, d } from './c';",
      "export * from './e';",
      "export type { F } from './f';",
      "import './side';",
      'const g = await import("./g");',
      "const h = require('./h');",
      'const i = require(`./i`);',
      "import j = require('./j');",
      '',
    ].join('\n');
    assert.deepEqual(specs('x.ts', text), [
      '1:1 reference type ./globals.d.ts',
      '2:15 import ./a',
      '3:24 import type ./b',
      '4:27 import ./c',
      '5:15 export ./e',
      '6:24 export type ./f',
      '7:8 import ./side',
      '8:24 dynamic ./g',
      '9:19 require ./h',
      '10:19 require ./i',
      '11:20 require ./j',
    ]);
  });

  it('leaves out what names no module by a literal, and what only looks like an import', () => {
    const text = [
      'const name = "./x";',
      'await import(name);',
      'await import(`./t/${name}`);',
      'require(name);',
      'obj.require("./not-a-require");',
      '// import x from "./in-a-comment";',
      'const s = "import y from \'./in-a-string\'";',
      '/* require("./in-a-block-comment") */',
      '',
    ].join('\n');
    assert.deepEqual(specs('x.js', text), []);
  });

  it('parses JSX and counts columns in UTF-16 units after non-ASCII text', () => {
    assert.deepEqual(specs('x.tsx', 'const s = "é€😀";\nimport { B } from "./b";\nexport const A = () => <B title="é" />;\n'), ['2:19 import ./b']);
    assert.deepEqual(specs('x.jsx', 'const el = <div>héllo</div>; import("./lazy");\n'), ['1:37 dynamic ./lazy']);
  });

  it('keeps what it read before a syntax error, and says where the error is', () => {
    const r = parseImports('x.ts', "import a from './a';\nconst = ;\n");
    assert.deepEqual(r.imports.map((i) => i.specifier), ['./a']);
    assert.equal(r.parseError?.line, 2);
  });
});

describe('referenceAttribute', () => {
  it('reads path= of a triple-slash reference, either quote, other attributes around it', () => {
    assert.equal(referenceAttribute('/ <reference path="./a.d.ts" />', 'path'), './a.d.ts');
    assert.equal(referenceAttribute("/<reference types='node' path='b.d.ts'/>", 'path'), 'b.d.ts');
    assert.equal(referenceAttribute('/ <reference types="node" />', 'path'), undefined);
    assert.equal(referenceAttribute(' <reference path="./a.d.ts" />', 'path'), undefined, 'two slashes are a plain comment');
    assert.equal(referenceAttribute('/ see <reference path="x" />', 'path'), undefined);
  });
});
