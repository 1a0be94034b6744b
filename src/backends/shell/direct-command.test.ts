import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { directWords } from './direct-command.js';

const tools = new Set(['bash', 'node', 'echo', 'time']);

describe('directWords', () => {
  it('splits a command of plain words whose first is a tool', () => {
    assert.deepEqual(directWords('node build.js out/p1.txt ../p0/out/p0.txt', tools, {}), ['node', 'build.js', 'out/p1.txt', '../p0/out/p0.txt']);
    assert.deepEqual(directWords('  node   -e=1 a,b c:d @x %y +z  ', tools, { FOO: 'bar' }), ['node', '-e=1', 'a,b', 'c:d', '@x', '%y', '+z']);
    assert.deepEqual(directWords('bash script.sh', tools, {}), ['bash', 'script.sh']);
  });

  it('keeps bash for anything bash could read otherwise', () => {
    const shell = [
      '',
      'node a; node b',
      'node a && node b',
      'node a | cat',
      'node a > out',
      'node a < in',
      'node a &',
      'node $X',
      'node ${X}',
      'node `x`',
      'node $(x)',
      'node "a b"',
      "node 'a'",
      'node a\\ b',
      'node *.js',
      'node a?',
      'node [ab]',
      'node {a,b}',
      'node ~/x',
      'node ~',
      'node # comment',
      'node a#b',
      'node !x',
      'node (a)',
      'X=1 node a',
      'node a\nnode b',
      'node\ta',
      'cat a', // not a tool: bash would say "command not found"
      'echo a', // a builtin, even though a tool of that name exists
      'time node a', // a reserved word
    ];
    for (const c of shell) assert.equal(directWords(c, tools, {}), undefined, c);
  });

  it('keeps bash when a variable changes what bash does before running the command', () => {
    for (const name of ['BASH_ENV', 'ENV', 'SHELLOPTS', 'BASHOPTS', 'PS4', 'POSIXLY_CORRECT', 'BASH_XTRACEFD']) {
      assert.equal(directWords('node a', tools, { [name]: 'x' }), undefined, name);
    }
  });
});
