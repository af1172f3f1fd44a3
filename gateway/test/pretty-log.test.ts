import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createLogger } from '../src/logger.ts';
import { prettyLine } from '../src/pretty-log.ts';

describe('log lines for people', () => {
  it('writes time, level, message and fields on one line', () => {
    const line = prettyLine(
      JSON.stringify({
        level: 40,
        time: Date.UTC(2026, 0, 1, 12, 0, 1, 234),
        service: 'iot-gateway',
        msg: 'device refused',
        reason: 'invalid_token',
        detail: 'no device x',
      }),
    );
    assert.equal(
      line,
      '12:00:01.234 WARN  device refused  reason=invalid_token detail="no device x"\n',
    );
  });

  it('keeps secrets redacted, as the JSON logs do', () => {
    const out: string[] = [];
    const log = createLogger('info', { write: (text) => out.push(text) }, 'pretty');
    log.info({ token: 'dtk_secret', headers: { authorization: 'Bearer x' } }, 'hello');
    assert.equal(out.length, 1);
    assert.ok(!out[0]?.includes('dtk_secret'));
    assert.ok(!out[0]?.includes('Bearer x'));
    assert.match(out[0] ?? '', /INFO {2}hello {2}token=\[redacted\]/);
  });
});
