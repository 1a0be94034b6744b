import assert from 'node:assert/strict';
import { test } from 'node:test';
import { greet } from '@demo/greeter';
import { message } from './message.js';

test('message greets and counts', () => {
  assert.equal(message(['ada'], greet), 'Hello, Ada! (One Name)');
  assert.equal(message(['ada', 'alan'], greet), 'Hello, Ada and Alan! (2 Names)');
});
