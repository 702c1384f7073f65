import { describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseSafetensors, readSafetensors, serializeSafetensors, writeSafetensors, f32ToF16, f16ToF32, f32ToBf16 } from './safetensors.js';

const fixtures = new URL('../fixtures/', import.meta.url).pathname;

describe('safetensors', () => {
  it('reads the file written by tools/make_core_fixtures.py (struct + json reference)', () => {
    const expected = JSON.parse(readFileSync(join(fixtures, 'reference.json'), 'utf8'));
    const file = readSafetensors(join(fixtures, 'reference.safetensors'));
    expect(file.metadata).toEqual(expected.metadata);
    const weight = file.tensors.get('weight')!;
    expect(weight.dtype).toBe('F32');
    expect(weight.shape).toEqual([2, 3]);
    expect(Array.from(weight.data as Float32Array)).toEqual([-1, -0.5, 0, 0.5, 1, 1.5]);
    expect(Array.from(file.tensors.get('half')!.data as Float32Array)).toEqual(expected.half);
    expect(Array.from(file.tensors.get('brain')!.data as Float32Array)).toEqual(expected.brain);
    expect(Array.from(file.tensors.get('ids')!.data as BigInt64Array)).toEqual([1n, -2n, 50256n]);
    const counts = file.tensors.get('counts')!;
    expect(counts.shape).toEqual([1, 3]);
    expect(Array.from(counts.data as Int32Array)).toEqual(expected.counts);
  });

  it('round-trips F32 bit-exactly, F16/BF16 with round-to-nearest-even, integers and metadata', () => {
    const dir = mkdtempSync(join(tmpdir(), 'mats-st-'));
    const path = join(dir, 'x.safetensors');
    const values = new Float32Array([0.1, -2.7182817, 3.4e38, 1e-40, -0]);
    writeSafetensors(
      path,
      {
        a: { data: values, shape: [5] },
        h: { data: new Float32Array([1.0009765625, 1.00048828125, 1.000732421875, 70000]), shape: [2, 2], dtype: 'F16' },
        b: { data: new Float32Array([1.00390625, 1.001953125]), shape: [2], dtype: 'BF16' },
        i: { data: new Int32Array([3, -4]), shape: [2], dtype: 'I64' },
        e: { data: new Float32Array(0), shape: [0, 4] },
      },
      { step: '12' },
    );
    const file = readSafetensors(path);
    expect(file.metadata).toEqual({ step: '12' });
    expect(new Uint32Array((file.tensors.get('a')!.data as Float32Array).buffer)).toEqual(new Uint32Array(values.buffer));
    // 1 + 2^-11 is a tie between 1 and 1 + 2^-10: even mantissa (1) wins; 1 + 1.5 * 2^-11 rounds up; 70000 overflows to Inf.
    expect(Array.from(file.tensors.get('h')!.data as Float32Array)).toEqual([1.0009765625, 1, 1.0009765625, Infinity]);
    // bf16 keeps 7 mantissa bits: 1 + 2^-8 is a tie -> 1; 1 + 2^-9 -> 1.
    expect(Array.from(file.tensors.get('b')!.data as Float32Array)).toEqual([1, 1]);
    expect(file.tensors.get('i')!.dtype).toBe('I64');
    expect(Array.from(file.tensors.get('i')!.data as BigInt64Array)).toEqual([3n, -4n]);
    expect(file.tensors.get('e')!.shape).toEqual([0, 4]);
    // The data section starts 8-byte aligned, as the reference writer pads it.
    const bytes = readFileSync(path);
    expect((8 + Number(bytes.readBigUInt64LE(0))) % 8).toBe(0);
  });

  it('f16 conversion handles subnormals, NaN and signed zero', () => {
    const src = new Float32Array([2 ** -24, 2 ** -25, 3 * 2 ** -25, NaN, -0, 65504]);
    const back = f16ToF32(f32ToF16(src));
    expect(back[0]).toBe(2 ** -24);
    expect(back[1]).toBe(0); // tie between 0 and 2^-24 rounds to even (0)
    expect(back[2]).toBe(2 ** -23); // 1.5 * 2^-24 rounds to 2 * 2^-24
    expect(Number.isNaN(back[3])).toBe(true);
    expect(Object.is(back[4], -0)).toBe(true);
    expect(back[5]).toBe(65504);
    expect(Array.from(f32ToBf16(new Float32Array([1.0078125]))))
      .toEqual([0x3f81]);
  });

  it('rejects truncated, overlapping, holed and mistyped files with clear errors', () => {
    const good = serializeSafetensors({ w: { data: new Float32Array([1, 2, 3, 4]), shape: [4] } });
    expect(() => parseSafetensors(good.subarray(0, good.length - 3), 'w.safetensors')).toThrow(
      /w\.safetensors: invalid safetensors file: .*"w".*past the end of the data.*truncated/,
    );
    expect(() => parseSafetensors(good.subarray(0, 5), 'short')).toThrow(/shorter than the 8-byte header length/);
    const withHeader = (header: object, dataBytes: number) => {
      const json = new TextEncoder().encode(JSON.stringify(header));
      const out = new Uint8Array(8 + json.length + dataBytes);
      new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
      out.set(json, 8);
      return out;
    };
    expect(() =>
      parseSafetensors(
        withHeader(
          {
            a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] },
            b: { dtype: 'F32', shape: [2], data_offsets: [4, 12] },
          },
          12,
        ),
        'o',
      ),
    ).toThrow(/tensor "b": data \[4, 12\) overlaps the previous tensor/);
    expect(() => parseSafetensors(withHeader({ a: { dtype: 'F32', shape: [1], data_offsets: [4, 8] } }, 8), 'g')).toThrow(/gap of 4 bytes/);
    expect(() => parseSafetensors(withHeader({ a: { dtype: 'Q4', shape: [1], data_offsets: [0, 4] } }, 4), 'd')).toThrow(
      /tensor "a": unsupported dtype "Q4"/,
    );
    expect(() => parseSafetensors(withHeader({ a: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } }, 8), 's')).toThrow(
      /F32 \[3\] needs 12 bytes but data_offsets \[0, 8\] span 8/,
    );
    const badJson = new Uint8Array(12);
    new DataView(badJson.buffer).setBigUint64(0, 4n, true);
    badJson.set(new TextEncoder().encode('{no'), 8);
    expect(() => parseSafetensors(badJson, 'j')).toThrow(/header is not valid UTF-8 JSON/);
    expect(() => parseSafetensors(withHeader({ a: { dtype: 'F32', shape: [1], data_offsets: [0, 4] } }, 6), 't')).toThrow(/2 trailing bytes/);
  });

  it('names the file when it cannot be read, and the writer checks shapes', () => {
    expect(() => readSafetensors('/nonexistent/model.safetensors')).toThrow(/\/nonexistent\/model\.safetensors: cannot read/);
    expect(() => serializeSafetensors({ w: { data: new Float32Array(3), shape: [2, 2] } })).toThrow(/"w" has 3 values but shape \[2,2\] needs 4/);
  });

  it('writes atomically: no temporary file remains', () => {
    const dir = mkdtempSync(join(tmpdir(), 'mats-st-'));
    writeSafetensors(join(dir, 'm.safetensors'), { w: { data: new Float32Array([1]), shape: [1] } });
    writeFileSync(join(dir, 'keep.txt'), 'x');
    expect(existsSync(join(dir, 'm.safetensors'))).toBe(true);
    expect(readdirSync(dir).sort()).toEqual(['keep.txt', 'm.safetensors']);
  });
});
