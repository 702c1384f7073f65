import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseJson, readTextFile, stripBom, writeFileAtomic } from './index.js';
import { readFileInChunks } from './files.js';
import { assertFiniteTensors, parseSafetensors, serializeSafetensors } from './safetensors.js';

const dir = () => mkdtempSync(join(tmpdir(), 'mats-files-'));

describe('text and JSON files', () => {
  it('accepts a UTF-8 byte-order mark before JSON', () => {
    const d = dir();
    writeFileSync(join(d, 'a.json'), Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('{"a": 1}')]));
    expect(parseJson(readTextFile(join(d, 'a.json')))).toEqual({ a: 1 });
    expect(stripBom('\ufeffx')).toBe('x');
    expect(stripBom('x\ufeff')).toBe('x\ufeff');
  });

  it('reads a file in chunks byte for byte (the route taken above 2 GiB)', () => {
    const d = dir();
    const bytes = Buffer.from(Array.from({ length: 1000 }, (_, i) => (i * 7) % 256));
    writeFileSync(join(d, 'b.bin'), bytes);
    expect(readFileInChunks(join(d, 'b.bin'), 10, 33).equals(bytes)).toBe(true);
    expect(readFileInChunks(join(d, 'b.bin'), 10_000, 33).equals(bytes)).toBe(true);
  });

  it('a failed atomic write names the file and leaves no temporary file', () => {
    const d = dir();
    const target = join(d, 'no-such-folder-is-a-file', 'x.json');
    writeFileSync(join(d, 'no-such-folder-is-a-file'), 'a file, not a folder');
    expect(() => writeFileAtomic(target, 'x')).toThrow(`${target}: cannot write (`);
    expect(readFileSync(join(d, 'no-such-folder-is-a-file'), 'utf8')).toBe('a file, not a folder');
  });
});

describe('assertFiniteTensors', () => {
  const file = (values: number[]) => parseSafetensors(serializeSafetensors({ w: { shape: [values.length], data: new Float32Array(values) }, b: { shape: [1], data: new Float32Array([1]) } }), 'x.safetensors');
  it('passes finite weights', () => {
    expect(() => assertFiniteTensors(file([0, -1, 3.4e38]), 'x.safetensors')).not.toThrow();
  });
  it('names the file, the tensor and the element of a NaN or an infinity', () => {
    expect(() => assertFiniteTensors(file([0, 1, NaN]), 'x.safetensors')).toThrow('x.safetensors: tensor "w" (shape [3]) holds NaN at element 2');
    expect(() => assertFiniteTensors(file([-Infinity]), 'y.safetensors')).toThrow('y.safetensors: tensor "w" (shape [1]) holds -Infinity at element 0');
  });
});
