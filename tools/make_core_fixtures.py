#!/usr/bin/env python3
"""Writes packages/core/fixtures/reference.safetensors with the standard library only (struct + json),
following the safetensors spec independently of our TypeScript writer, plus the decoded values the
core tests compare against (reference.json). Run: python3 tools/make_core_fixtures.py"""
import json
import os
import struct

OUT = os.path.join(os.path.dirname(__file__), '..', 'packages', 'core', 'fixtures')


def bf16_bits(x):
    # Truncating float32 -> bfloat16 is exact for these values (low 16 bits are zero).
    (bits,) = struct.unpack('<I', struct.pack('<f', x))
    assert bits & 0xFFFF == 0, x
    return bits >> 16


def main():
    weight = [(i * 0.5) - 1.0 for i in range(6)]          # F32, shape [2, 3]
    half = [1.0, -2.5, 65504.0, 2.0 ** -24, 0.333251953125]  # F16, exactly representable (incl. smallest subnormal)
    brain = [1.0, -3.140625, 1.5 * 2.0 ** 40]              # BF16, exactly representable
    ids = [1, -2, 50256]                                    # I64
    counts = [7, -8, 2 ** 31 - 1]                           # I32

    blobs = [
        ('weight', 'F32', [2, 3], struct.pack('<6f', *weight)),
        ('half', 'F16', [5], struct.pack('<5e', *half)),
        ('brain', 'BF16', [3], struct.pack('<3H', *[bf16_bits(v) for v in brain])),
        ('ids', 'I64', [3], struct.pack('<3q', *ids)),
        ('counts', 'I32', [1, 3], struct.pack('<3i', *counts)),
    ]
    header = {'__metadata__': {'format': 'pt', 'source': 'tools/make_core_fixtures.py'}}
    offset = 0
    for name, dtype, shape, data in blobs:
        header[name] = {'dtype': dtype, 'shape': shape, 'data_offsets': [offset, offset + len(data)]}
        offset += len(data)
    header_bytes = json.dumps(header).encode('utf-8')
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, 'reference.safetensors'), 'wb') as f:
        f.write(struct.pack('<Q', len(header_bytes)))
        f.write(header_bytes)
        for _, _, _, data in blobs:
            f.write(data)
    with open(os.path.join(OUT, 'reference.json'), 'w') as f:
        json.dump({'weight': weight, 'half': half, 'brain': brain, 'ids': ids, 'counts': counts,
                   'metadata': header['__metadata__']}, f, indent=1)


if __name__ == '__main__':
    main()
