import assert from 'node:assert/strict';
import {ALL_SECTIONS, parseBenchArgs, UsageError} from '../../../bench/lib/args';
import {expectedEcho, jsonBodyOfSize, LARGE_BODY_BYTES, SMALL_BODY} from '../../../bench/lib/bodies';

describe('bench: arguments and bodies (unit)', () => {
  it('defaults to >= 5 interleaved rounds over every section', () => {
    const o = parseBenchArgs([]);
    assert.ok(o.rounds >= 5);
    assert.deepEqual(o.sections, [...ALL_SECTIONS]);
    assert.equal(o.quick, false);
    assert.notEqual(o.serverCpu, o.loadCpu);
  });

  it('--quick is a short smoke mode', () => {
    const o = parseBenchArgs(['--quick']);
    assert.ok(o.rounds <= 2 && o.durationS <= 3);
    assert.equal(o.quick, true);
  });

  it('takes explicit values and keeps sections in report order', () => {
    const o = parseBenchArgs([
      '--quick',
      '--rounds',
      '3',
      '--sections',
      'startup,keepalive',
      '--out',
      '/tmp/x',
      '--server-cpu',
      '2',
      '--load-cpu',
      '3',
    ]);
    assert.equal(o.rounds, 3);
    assert.deepEqual(o.sections, ['keepalive', 'startup']);
    assert.equal(o.outDir, '/tmp/x');
    assert.equal(o.serverCpu, 2);
  });

  const bad: string[][] = [
    ['--rounds'],
    ['--rounds', 'x'],
    ['--rounds', '0'],
    ['--sections', 'keepalive,nope'],
    ['--frobnicate'],
    ['--server-cpu', '1', '--load-cpu', '1'],
  ];
  for (const argv of bad) {
    it(`refuses ${argv.join(' ')}`, () => {
      assert.throws(() => parseBenchArgs(argv), UsageError);
    });
  }

  for (const size of [1024, 4096, LARGE_BODY_BYTES]) {
    it(`builds a JSON body of exactly ${size} bytes`, () => {
      const body = jsonBodyOfSize(size);
      assert.equal(Buffer.byteLength(body), size);
      assert.deepEqual(expectedEcho(body), {received: true, keys: ['items', 'meta']});
    });
  }

  it('the small body is small JSON with sorted echo keys', () => {
    assert.ok(Buffer.byteLength(SMALL_BODY) < 200);
    assert.deepEqual(expectedEcho(SMALL_BODY).keys, ['name', 'note', 'quantity', 'tags']);
  });
});
