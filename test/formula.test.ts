import test from 'ava';
import {bias, fnv1a32, predictMatrix, predictRow} from '../src/simulator/formula.ts';

const utf8 = (s: string) => new TextEncoder().encode(s);

test('fnv1a32 matches the published FNV-1a test vectors', (t) => {
  t.is(fnv1a32(utf8('')), 0x811c9dc5);
  t.is(fnv1a32(utf8('a')), 0xe40c292c);
  t.is(fnv1a32(utf8('foobar')), 0xbf9cf968);
});

test('bias hashes the UTF-8 bytes of model, newline, agent type, scaled to [0, 1)', (t) => {
  t.is(bias('resnet-50', 'scout'), fnv1a32(utf8('resnet-50\nscout')) / 2 ** 32);
  t.not(bias('a', 'b'), bias('b', 'a'));
  // Multi-byte characters hash as their UTF-8 bytes, not as UTF-16 code units.
  t.is(bias('é', 'x'), fnv1a32(new Uint8Array([0xc3, 0xa9, 0x0a, 0x78])) / 2 ** 32);
});

test('prediction is the bias plus the index-weighted sum, in index order', (t) => {
  const b = bias('m', 't');
  t.is(predictRow(b, [0.5, -1.25, 3.0]), b + (0.5 * 1 + -1.25 * 2 + 3.0 * 3));
  t.is(predictRow(b, new Float64Array([2])), b + 2);
  t.deepEqual(predictMatrix('m', 't', [[1], [1, 1]]), [b + 1, b + 3]);
});
