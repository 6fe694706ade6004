import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { parseSseBlock, SseSplitter } from './sse.ts';

/** The splitter's contract, written the slow, obvious way: split the whole text at each terminator. */
function reference(text: string): Array<{ raw: string; event?: string; data: string }> {
  const out = [];
  let buf = text;
  for (;;) {
    const m = /\r\n\r\n|\n\n|\r\r/.exec(buf);
    if (!m) break;
    const raw = buf.slice(0, m.index + m[0].length);
    buf = buf.slice(raw.length);
    out.push({ raw, ...parseSseBlock(raw.slice(0, m.index)) });
  }
  return out;
}

const plain = (e: { raw: string; event?: string; data: string }) => ({ raw: e.raw, event: e.event, data: e.data });

describe('SseSplitter', () => {
  it('finds the same events as the reference, whatever the line ends and however the bytes are cut', () => {
    const line = fc.oneof(fc.constantFrom('data: {"a":1}', 'event: x', ': comment', 'data:', 'data: é€'), fc.string({ maxLength: 8 }).map((s) => `data: ${s.replace(/[\r\n]/g, '')}`));
    const eol = fc.constantFrom('\n', '\r\n', '\r');
    const block = fc.tuple(fc.array(fc.tuple(line, eol), { minLength: 1, maxLength: 4 }), eol).map(([ls, end]) => ls.map(([l, e]) => l + e).join('') + end);
    fc.assert(
      fc.property(fc.array(block, { maxLength: 8 }), fc.array(fc.nat(), { maxLength: 6 }), (blocks, cutsRaw) => {
        const text = blocks.join('');
        const bytes = Buffer.from(text);
        const cuts = [...new Set(cutsRaw.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
        const s = new SseSplitter();
        const got = [];
        let at = 0;
        for (const c of [...cuts, bytes.length]) {
          got.push(...s.push(bytes.subarray(at, c)));
          at = c;
        }
        expect(got.map(plain)).toEqual(reference(text).map(plain));
      }),
      { numRuns: 1000 },
    );
  });
});
