import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { encodePoint } from '../../src/sink/line-protocol.ts';

describe('line protocol', () => {
  it('escapes tags, keys and strings and sorts tags', () => {
    const line = encodePoint({
      measurement: 'telemetry',
      tags: { site: 'north hall,2', device_id: 'a=b', empty: '' },
      fields: { temperature: 21.5, count: { int: 3 }, ok: true, note: 'say "hi"\nbye' },
      time: 1700000000123,
    });
    assert.equal(
      line,
      'telemetry,device_id=a\\=b,site=north\\ hall\\,2 temperature=21.5,count=3i,ok=true,note="say \\"hi\\"\\nbye" 1700000000123',
    );
  });

  it('refuses non-finite numbers and pointless points', () => {
    assert.throws(() =>
      encodePoint({ measurement: 'm', tags: {}, fields: { x: Number.NaN }, time: 1 }),
    );
    assert.throws(() => encodePoint({ measurement: 'm', tags: {}, fields: {}, time: 1 }));
  });
});
