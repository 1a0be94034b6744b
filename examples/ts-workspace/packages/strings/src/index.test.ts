import assert from 'node:assert/strict';
import { test } from 'node:test';
import { joinNames, titleCase } from './index.js';

test('titleCase capitalizes every word', () => {
  assert.equal(titleCase('ada  LOVELACE'), 'Ada Lovelace');
  assert.equal(titleCase(''), '');
});

test('joinNames says a list as a sentence', () => {
  assert.equal(joinNames([]), '');
  assert.equal(joinNames(['Ada']), 'Ada');
  assert.equal(joinNames(['Ada', 'Grace', 'Alan']), 'Ada, Grace and Alan');
});
