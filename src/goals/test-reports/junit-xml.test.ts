import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import type { TestCase } from '../../backends/index.js';
import { junitXml } from './index.js';

const FILE = 'pkg/test/a.test.ts';

const CASES: readonly TestCase[] = [
  { file: FILE, name: 'adds', suites: ['math', 'sums'], status: 'passed', durationMs: 1.5 },
  {
    file: FILE,
    name: 'fails <badly> & "loudly"',
    suites: ['math'],
    status: 'failed',
    durationMs: 2250,
    failure: {
      message: "expected 'a'\n\nto equal 'b'",
      location: { file: FILE, line: 12, column: 7 },
      details: 'AssertionError: expected\n    at pkg/test/a.test.ts:12:7',
    },
  },
  { file: FILE, name: 'later', suites: [], status: 'skipped', durationMs: 0 },
  { file: FILE, name: 'someday', suites: [], status: 'todo', durationMs: 0 },
  // ANSI colours, a NUL, a lone surrogate, a tab: a test's output is not always text XML can hold.
  { file: FILE, name: 'colours \u001b[31mred\u001b[0m\u0000 \ud800 tab\there', suites: [], status: 'failed', durationMs: 3, failure: { message: 'bad \u001b[1mbold\u001b[22m ]]> end' } },
];

interface Parsed {
  testsuites: {
    '@_tests': string;
    '@_failures': string;
    testsuite: {
      '@_name': string;
      '@_tests': string;
      '@_failures': string;
      '@_skipped': string;
      '@_time': string;
      testcase: { '@_name': string; '@_classname': string; '@_time': string; '@_line'?: string; failure?: { '#text': string; '@_message': string }; skipped?: { '@_message': string } }[];
    };
  };
}

function parse(xml: string): Parsed {
  const valid = XMLValidator.validate(xml);
  assert.equal(valid, true, JSON.stringify(valid));
  return new XMLParser({ ignoreAttributes: false, isArray: (name) => name === 'testcase', parseAttributeValue: false, trimValues: false, htmlEntities: true }).parse(xml) as Parsed;
}

describe('junitXml', () => {
  test('one testsuite per file, a testcase per case, parsed back by a real XML parser', () => {
    const xml = junitXml(FILE, CASES);
    const doc = parse(xml).testsuites;
    assert.equal(doc['@_tests'], '5');
    assert.equal(doc['@_failures'], '2');
    const suite = doc.testsuite;
    assert.deepEqual([suite['@_name'], suite['@_tests'], suite['@_failures'], suite['@_skipped'], suite['@_time']], [FILE, '5', '2', '2', '2.255']);
    const [adds, fails, later, someday, colours] = suite.testcase;
    assert.deepEqual([adds!['@_name'], adds!['@_classname'], adds!['@_time']], ['adds', 'math > sums', '0.002']);
    assert.equal(fails!['@_name'], 'fails <badly> & "loudly"');
    assert.equal(fails!['@_line'], '12');
    assert.equal(fails!.failure!['@_message'], "expected 'a'\n\nto equal 'b'", 'line breaks in an attribute survive');
    assert.equal(fails!.failure!['#text'], "expected 'a'\n\nto equal 'b'\n\nat pkg/test/a.test.ts:12:7\n\nAssertionError: expected\n    at pkg/test/a.test.ts:12:7");
    assert.equal(later!['@_classname'], FILE, 'a case outside any suite is classed under its file');
    assert.equal(later!.skipped!['@_message'], 'skipped');
    assert.equal(someday!.skipped!['@_message'], 'todo');
    assert.equal(colours!['@_name'], 'colours \\u001b[31mred\\u001b[0m\\u0000 \\ud800 tab\there');
    assert.equal(colours!.failure!['@_message'], 'bad \\u001b[1mbold\\u001b[22m ]]> end');
  });

  test('no character XML 1.0 forbids reaches the document', () => {
    const xml = junitXml(FILE, CASES);
    // eslint-disable-next-line no-control-regex
    assert.doesNotMatch(xml, /[\u0000-\u0008\u000B\u000C\u000E-\u001F]/);
    assert.doesNotMatch(xml, /[\uD800-\uDFFF]/);
  });

  test('the same cases give the same bytes; a timestamp only when asked', () => {
    assert.equal(junitXml(FILE, CASES), junitXml(FILE, CASES));
    assert.doesNotMatch(junitXml(FILE, CASES), /timestamp=/);
    assert.match(junitXml(FILE, CASES, { timestamp: '2026-12-05T04:00:00Z', name: 'a' }), /<testsuite name="a" [^>]*timestamp="2026-12-05T04:00:00Z"/);
  });

  test('a file with no cases is an empty suite, still a valid document', () => {
    const doc = parse(junitXml(FILE, []));
    assert.equal(doc.testsuites.testsuite['@_tests'], '0');
  });
});
