import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { parseSimArgs } from '../../src/sim/cli-options.ts';
import { HELP } from '../../src/sim/help.ts';

const env = { ADMIN_TOKEN: 'x'.repeat(32) };

describe('simulator options', () => {
  it('applies the documented defaults', () => {
    const parsed = parseSimArgs(['--provision'], env);
    assert.equal(parsed.kind, 'options');
    if (parsed.kind !== 'options') return;
    const o = parsed.options;
    assert.equal(o.gateway, 'http://127.0.0.1:8080');
    assert.equal(o.rate, 1);
    assert.deepEqual(o.types, [{ type: 'thermostat', weight: 1 }]);
    assert.equal(o.duration, 0);
    assert.ok(Object.isFrozen(o));
  });

  it('reads kebab-case flags, short flags, --rate max and weighted types', () => {
    const parsed = parseSimArgs(
      [
        '-n',
        '50',
        '--rate',
        'max',
        '-t',
        'thermostat:3,gps-tracker',
        '--churn-offline',
        '2',
        '--tokens',
        'f.json',
      ],
      {},
    );
    assert.equal(parsed.kind, 'options');
    if (parsed.kind !== 'options') return;
    assert.equal(parsed.options.devices, 50);
    assert.equal(parsed.options.rate, 'max');
    assert.deepEqual(parsed.options.types, [
      { type: 'thermostat', weight: 3 },
      { type: 'gps-tracker', weight: 1 },
    ]);
    assert.equal(parsed.options.churnOffline, 2);
  });

  it('reports every problem at once', () => {
    const parsed = parseSimArgs(
      [
        '--gateway',
        'ftp://x',
        '--devices',
        '1.5',
        '--invalid',
        '2',
        '--types',
        'Thermo:0',
        '--bogus',
        'extra',
        '--save-tokens',
        'out.json',
      ],
      {},
    );
    assert.equal(parsed.kind, 'invalid');
    if (parsed.kind !== 'invalid') return;
    const text = parsed.problems.join('\n');
    for (const expected of [
      '--gateway',
      '--devices',
      '--invalid',
      '--types',
      '--bogus',
      '"extra"',
      '--save-tokens',
      'give --provision',
    ]) {
      assert.ok(text.includes(expected), `mentions ${expected}:\n${text}`);
    }
    assert.equal(parsed.problems.length, 8);
  });

  it('needs ADMIN_TOKEN for --provision, and not both --provision and --tokens', () => {
    const parsed = parseSimArgs(['--provision', '--tokens', 'f.json'], {});
    assert.equal(parsed.kind, 'invalid');
    if (parsed.kind !== 'invalid') return;
    assert.equal(parsed.problems.length, 2);
  });

  it('--help and docs/simulator.md document every flag', () => {
    const source = readFileSync(new URL('../../src/sim/cli-options.ts', import.meta.url), 'utf8');
    const block = source.slice(source.indexOf('const FLAGS = {'), source.indexOf('} as const;'));
    const flags = [...block.matchAll(/^\s+'?([a-z-]+)'?: \{ type/gm)].map((m) => `--${m[1]}`);
    assert.ok(flags.length > 20);
    const docs = readFileSync(new URL('../../../docs/simulator.md', import.meta.url), 'utf8');
    for (const flag of flags) {
      assert.ok(HELP.includes(flag), `--help documents ${flag}`);
      assert.ok(docs.includes(`\`${flag}`), `docs/simulator.md documents ${flag}`);
    }
  });
});
