import { describe, expect, it } from 'vitest';
import { canonicalJson, chainHash } from '../protocol/chain';
import { uuidv7 } from './ids';

describe('uuidv7', () => {
  it('is a version-7, variant-10 UUID, strictly increasing within the process, never repeated', () => {
    const ids = Array.from({ length: 20_000 }, () => uuidv7());
    for (const id of ids) expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    for (let i = 1; i < ids.length; i++) expect(ids[i]! > ids[i - 1]!).toBe(true);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('carries the millisecond it was made in its first 48 bits', () => {
    const before = Date.now();
    const id = uuidv7();
    const ms = parseInt(id.replace(/-/g, '').slice(0, 12), 16);
    expect(ms).toBeGreaterThanOrEqual(before);
    expect(ms).toBeLessThanOrEqual(Date.now() + 1);
  });
});

describe('canonical JSON (what the chain hashes, on the terminal and at HQ)', () => {
  it('sorts keys by code unit, drops undefined members, keeps nulls, no whitespace', () => {
    const row = { b: 1, a: 'x', é: null, Z: [3, undefined, { d: true, c: 'й' }], u: undefined, n: -0.5 };
    expect(canonicalJson(row)).toBe('{"Z":[3,null,{"c":"й","d":true}],"a":"x","b":1,"n":-0.5,"é":null}');
    expect(canonicalJson({})).toBe('{}');
    expect(canonicalJson([])).toBe('[]');
    expect(canonicalJson('a"b')).toBe('"a\\"b"');
    // Two shapes whose keys join to the same text are still told apart.
    expect(canonicalJson({ 'b\u0001a': 1 })).toBe('{"b\\u0001a":1}');
    expect(canonicalJson({ b: 1, a: 2 })).toBe('{"a":2,"b":1}');
    expect(canonicalJson({ n: NaN, i: Infinity, z: -0 })).toBe('{"i":null,"n":null,"z":0}');
  });

  it('gives the same hash whatever order the keys were written in', () => {
    const h = (r: Record<string, unknown>) => chainHash('0'.repeat(64), r);
    expect(h({ id: 'r1', points: 5, kind: 'earn' })).toBe(h({ kind: 'earn', id: 'r1', points: 5 }));
    expect(h({ id: 'r1', points: 5 })).not.toBe(h({ id: 'r1', points: 6 }));
  });
});
