import assert from 'node:assert/strict';
import { test } from 'node:test';
import { greet } from './index.js';

test('greet names everyone, title-cased', () => {
  assert.equal(greet(['ada lovelace', 'grace hopper']), 'Hello, Ada Lovelace and Grace Hopper!');
});

test('greet with nobody greets the world', () => {
  assert.equal(greet([], 'Hi'), 'Hi, world!');
});
