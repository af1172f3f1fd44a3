import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { JSON_VALUE_LIMITS, jsonObjectSchema, jsonValueSchema } from '../src/index.ts';
import { assertIssue, assertIssues, assertValid } from './assert-issues.ts';

function nested(levels: number): unknown {
  let value: unknown = 1;
  for (let i = 0; i < levels; i++) value = { a: value };
  return value;
}

describe('jsonValueSchema', () => {
  it('accepts every JSON value up to the limits', () => {
    for (const value of [null, true, 0, -1.5, 'x', [], {}, [1, 'a', null, { b: [false] }]]) {
      assert.deepEqual(assertValid(jsonValueSchema, value), value);
    }
    assertValid(jsonValueSchema, nested(JSON_VALUE_LIMITS.maxDepth));
    assertValid(jsonValueSchema, 'x'.repeat(JSON_VALUE_LIMITS.maxStringLength));
  });

  it('rejects nesting deeper than 8 at the container that is too deep', () => {
    assertIssue(jsonValueSchema, nested(9), 'a.a.a.a.a.a.a.a', 'too_big', /at most 8 levels/);
  });

  it('rejects NaN and Infinity with their path', () => {
    assertIssues(jsonValueSchema, { a: [1, Number.NaN], b: { c: Number.NEGATIVE_INFINITY } }, [
      { path: 'a.1', code: 'invalid_type', message: /received NaN/ },
      { path: 'b.c', code: 'invalid_type', message: /received -Infinity/ },
    ]);
  });

  it('rejects values JSON cannot carry', () => {
    assertIssue(jsonValueSchema, { when: new Date(0) }, 'when', 'invalid_type', /instance of Date/);
    assertIssue(jsonValueSchema, { f: () => 1 }, 'f', 'invalid_type');
    assertIssue(jsonValueSchema, { u: undefined }, 'u', 'invalid_type');
    assertIssue(jsonValueSchema, { n: 10n }, 'n', 'invalid_type');
    // biome-ignore lint/suspicious/noSparseArray: the hole is the point
    assertIssue(jsonValueSchema, [1, , 3], '1', 'invalid_type');
  });

  it('rejects __proto__, constructor and prototype keys at any depth', () => {
    const value = JSON.parse(
      '{"__proto__":{"polluted":true},"a":[{"constructor":{"prototype":1}}],"b":{"prototype":2}}',
    );
    assertIssues(jsonValueSchema, value, [
      { path: '__proto__', code: 'invalid_key' },
      { path: 'a.0.constructor', code: 'invalid_key' },
      { path: 'b.prototype', code: 'invalid_key' },
    ]);
    assert.equal(({} as Record<string, unknown>)['polluted'], undefined);
  });

  it('rejects oversized strings and keys', () => {
    const long = 'x'.repeat(JSON_VALUE_LIMITS.maxStringLength + 1);
    assertIssue(jsonValueSchema, { s: long }, 's', 'too_big');
    const key = 'k'.repeat(JSON_VALUE_LIMITS.maxKeyLength + 1);
    assertIssue(jsonValueSchema, { [key]: 1 }, key, 'invalid_key');
  });

  it('rejects more than 1000 entries in total with one issue', () => {
    const wide = Array.from({ length: 20 }, () => Array.from({ length: 60 }, (_, i) => i));
    assertIssue(jsonValueSchema, wide, '', 'too_big', /more than 1000/);
  });

  it('terminates on cyclic objects', () => {
    const cyclic: Record<string, unknown> = {};
    cyclic['self'] = cyclic;
    assertIssue(jsonValueSchema, cyclic, 'self.self.self.self.self.self.self.self', 'too_big');
  });
});

describe('jsonObjectSchema', () => {
  it('accepts objects only', () => {
    assertValid(jsonObjectSchema, { delayMs: 10 });
    assertIssue(jsonObjectSchema, [1], '', 'invalid_type', /received array/);
    assertIssue(jsonObjectSchema, null, '', 'invalid_type');
    assertIssue(jsonObjectSchema, 'x', '', 'invalid_type');
  });
});
