const { sign } = require('../src/sign.js');

describe('math', () => {
  describe('sums', () => {
    it('adds', () => {
      expect(1 + 1).toBe(2);
    });
    it('fails', () => {
      expect(1 + 1).toBe(3);
    });
  });
  it.skip('skipped one', () => {});
  it.todo('todo one');
});

it('top level passes', () => {
  expect(sign(1)).toBe(1);
});

it('throws an error', () => {
  throw new Error('boom\nsecond line');
});
