import { describe, expect, it } from 'vitest';
import { Writable } from 'node:stream';
import { createProgress, formatDuration } from './progress.js';

function sink() {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, done) {
      lines.push(String(chunk));
      done();
    },
  });
  return { stream, lines };
}

describe('progress', () => {
  it('log mode prints the count, total, rate and fields, and a final line', () => {
    const { stream, lines } = sink();
    const p = createProgress({ label: 'train', total: 10, stream, mode: 'log', logEverySeconds: 0, unit: 'steps' });
    p.tick(4, { loss: 2.5 });
    p.stop();
    expect(lines[0]).toMatch(/^train 4\/10 \| [\d.e+]+ steps\/s \| ETA [\d.]+s \| loss 2\.50\n$/);
    expect(lines.at(-1)).toMatch(/done in/);
    expect(p.value).toBe(4);
  });

  it('silent mode writes nothing', () => {
    const { stream, lines } = sink();
    const p = createProgress({ label: 'x', total: 3, stream, mode: 'silent' });
    p.tick();
    p.stop();
    expect(lines).toEqual([]);
  });

  it('formats durations', () => {
    expect(formatDuration(4.24)).toBe('4.2s');
    expect(formatDuration(125)).toBe('2m05s');
    expect(formatDuration(3723)).toBe('1h02m03s');
  });
});
