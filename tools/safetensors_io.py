"""The one safetensors writer the fixture scripts share (the `safetensors` module is not installed
for Debian's python3). Follows the format spec: little-endian u64 header length, a JSON header padded
with spaces to 8-byte alignment, then the raw little-endian tensor data back to back."""
import json
import struct

import numpy as np

_DTYPES = {'f': ('F32', '<f4'), 'i8': ('I64', '<i8'), 'i4': ('I32', '<i4')}


def _as_array(t):
    arr = t.detach().cpu().numpy() if hasattr(t, 'detach') else np.asarray(t)
    if arr.dtype.kind == 'f':
        return 'F32', np.ascontiguousarray(arr, dtype='<f4')
    key = 'i%d' % arr.dtype.itemsize
    if arr.dtype.kind != 'i' or key not in _DTYPES:
        raise ValueError('unsupported dtype %s' % arr.dtype)
    name, little = _DTYPES[key]
    return name, np.ascontiguousarray(arr, dtype=little)


def write_safetensors(path, tensors, metadata=None):
    """tensors: a dict or a list of (name, torch tensor or numpy array); floats are stored as F32."""
    header = {}
    if metadata:
        header['__metadata__'] = metadata
    blobs = []
    offset = 0
    for name, t in (tensors.items() if isinstance(tensors, dict) else tensors):
        dtype, arr = _as_array(t)
        data = arr.tobytes()
        header[name] = {'dtype': dtype, 'shape': list(arr.shape), 'data_offsets': [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    header_bytes = json.dumps(header).encode('utf-8')
    header_bytes += b' ' * ((8 - len(header_bytes) % 8) % 8)
    with open(path, 'wb') as f:
        f.write(struct.pack('<Q', len(header_bytes)))
        f.write(header_bytes)
        for b in blobs:
            f.write(b)
