const assert = require('node:assert/strict');
const { sign } = require('../src/sign.js');

describe('math', () => {
  describe('sums', () => {
    it('adds', () => {
      assert.equal(1 + 1, 2);
    });
    it('fails', () => {
      assert.equal(1 + 1, 3);
    });
  });
  it.skip('skipped one', () => {});
  it('pending one');
});

it('top level passes', () => {
  assert.equal(sign(1), 1);
});

it('throws an error', () => {
  throw new Error('boom\nsecond line');
});
