#!/usr/bin/python3
"""Fixtures for @mats/datasets audio tests (run with Debian's /usr/bin/python3: torch + numpy).

Writes packages/datasets/fixtures/audio/:
  resample/*.f32 + resample.json  torchaudio's default Resample (sinc_interp_hann, lowpass_filter_width 6,
                                  rolloff 0.99) applied to a test signal. torchaudio itself is not installed
                                  here, so `torchaudio_resample` below is a line-by-line reimplementation of
                                  torchaudio.functional.functional._get_sinc_resample_kernel (dtype None ->
                                  float64 kernel rounded to float32, as transforms.Resample) and
                                  _apply_sinc_resample_kernel (torch conv1d, stride orig), in torch.
  wav/*.wav + wav.json            WAV files in several sample formats written byte by byte with `struct`,
                                  with the integer sample values the decoder must reproduce.
  flac/tone16.flac + flac.json    a FLAC file (VERBATIM subframes, written by hand below) with known samples.
"""
import json
import math
import os
import struct

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, '..', 'packages', 'datasets', 'fixtures', 'audio')


def torchaudio_resample(waveform: torch.Tensor, orig_freq: int, new_freq: int,
                        lowpass_filter_width: int = 6, rolloff: float = 0.99) -> torch.Tensor:
    if orig_freq == new_freq:
        return waveform
    gcd = math.gcd(orig_freq, new_freq)
    orig = orig_freq // gcd
    new = new_freq // gcd
    base_freq = min(orig, new) * rolloff
    width = math.ceil(lowpass_filter_width * orig / base_freq)
    idx = torch.arange(-width, width + orig, dtype=torch.float64)[None, None] / orig
    t = torch.arange(0, -new, -1, dtype=torch.float32)[:, None, None] / new + idx
    t *= base_freq
    t = t.clamp_(-lowpass_filter_width, lowpass_filter_width)
    window = torch.cos(t * math.pi / lowpass_filter_width / 2) ** 2
    t *= math.pi
    scale = base_freq / orig
    kernels = torch.where(t == 0, torch.tensor(1.0).to(t), t.sin() / t)
    kernels *= window * scale
    kernels = kernels.to(dtype=torch.float32)
    shape = waveform.size()
    waveform = waveform.view(-1, shape[-1])
    num_wavs, length = waveform.shape
    waveform = torch.nn.functional.pad(waveform, (width, width + orig))
    resampled = torch.nn.functional.conv1d(waveform[:, None], kernels, stride=orig)
    resampled = resampled.transpose(1, 2).reshape(num_wavs, -1)
    target_length = int(math.ceil(new * length / orig))
    return resampled[..., :target_length].view(shape[:-1] + (target_length,))


def write_resample():
    os.makedirs(os.path.join(OUT, 'resample'), exist_ok=True)
    cases = []
    rng = np.random.default_rng(1234)
    for from_rate, to_rate, seconds in [(44100, 16000, 0.05), (16000, 44100, 0.05), (48000, 44100, 0.03),
                                        (22050, 16000, 0.05), (8000, 16000, 0.05), (16000, 8000, 0.05)]:
        n = int(round(from_rate * seconds))
        tt = np.arange(n) / from_rate
        # Sines below and above the lower Nyquist, plus white noise: exercises pass band and stop band.
        x = (0.5 * np.sin(2 * np.pi * 440 * tt) + 0.25 * np.sin(2 * np.pi * 0.45 * min(from_rate, to_rate) * tt + 0.3)
             + 0.1 * rng.standard_normal(n)).astype(np.float32)
        y = torchaudio_resample(torch.from_numpy(x), from_rate, to_rate).numpy().astype(np.float32)
        name = f'{from_rate}_to_{to_rate}'
        x.astype('<f4').tofile(os.path.join(OUT, 'resample', f'{name}.in.f32'))
        y.astype('<f4').tofile(os.path.join(OUT, 'resample', f'{name}.out.f32'))
        cases.append({'name': name, 'fromRate': from_rate, 'toRate': to_rate, 'inputLength': n, 'outputLength': int(y.shape[0])})
    with open(os.path.join(OUT, 'resample.json'), 'w') as f:
        json.dump({'generator': 'tools/datasets_audio_fixtures.py', 'cases': cases}, f, indent=1)


def wav_bytes(fmt_code, channels, rate, bits, frames_bytes, extensible=False, extra_chunk=False):
    block = channels * bits // 8
    if extensible:
        # cbSize 22, valid bits, channel mask, sub-format GUID (format code + KSDATAFORMAT suffix).
        guid = struct.pack('<H', fmt_code) + bytes.fromhex('000000001000800000aa00389b71')
        fmt = struct.pack('<HHIIHHHHI', 0xFFFE, channels, rate, rate * block, block, bits, 22, bits, 0) + guid
    else:
        fmt = struct.pack('<HHIIHH', fmt_code, channels, rate, rate * block, block, bits)
    chunks = b'fmt ' + struct.pack('<I', len(fmt)) + fmt
    if extra_chunk:
        # An odd-sized LIST chunk before the data: the reader must honour the pad byte.
        info = b'INFOabc'
        chunks += b'LIST' + struct.pack('<I', len(info)) + info + b'\x00'
    chunks += b'data' + struct.pack('<I', len(frames_bytes)) + frames_bytes
    return b'RIFF' + struct.pack('<I', 4 + len(chunks)) + b'WAVE' + chunks


def write_wavs():
    os.makedirs(os.path.join(OUT, 'wav'), exist_ok=True)
    frames = 24
    files = []

    def ints(bits, channels):
        lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
        vals = []
        for i in range(frames):
            row = []
            for c in range(channels):
                v = int(round(math.sin(0.7 * i + c) * hi * (0.9 if c == 0 else 0.5)))
                row.append(max(lo, min(hi, v)))
            vals.append(row)
        vals[0][0] = lo  # extremes must decode to exactly -1
        vals[1][0] = hi
        return vals

    def add(name, fmt_code, channels, bits, rate, payload, expected, extensible=False, extra_chunk=False):
        data = wav_bytes(fmt_code, channels, rate, bits, payload, extensible, extra_chunk)
        with open(os.path.join(OUT, 'wav', name), 'wb') as f:
            f.write(data)
        files.append({'file': name, 'sampleRate': rate, 'channels': channels,
                      'samples': [[row[c] for row in expected] for c in range(channels)]})

    v = ints(16, 1)
    add('pcm16_mono.wav', 1, 1, 16, 16000, b''.join(struct.pack('<h', r[0]) for r in v), [[x / 32768 for x in r] for r in v])
    v = ints(16, 2)
    add('pcm16_stereo_list.wav', 1, 2, 16, 44100, b''.join(struct.pack('<hh', *r) for r in v),
        [[x / 32768 for x in r] for r in v], extra_chunk=True)
    v = [[int(round(127 * math.sin(0.5 * i + c))) for c in range(2)] for i in range(frames)]
    v[0][0] = -128
    add('pcm8_stereo.wav', 1, 2, 8, 8000, bytes(x + 128 for r in v for x in r), [[x / 128 for x in r] for r in v])
    v = ints(24, 2)
    add('pcm24_stereo.wav', 1, 2, 24, 48000, b''.join(struct.pack('<i', x)[:3] for r in v for x in r),
        [[x / 8388608 for x in r] for r in v])
    v = ints(32, 1)
    add('pcm32_mono.wav', 1, 1, 32, 22050, b''.join(struct.pack('<i', r[0]) for r in v), [[x / 2147483648 for x in r] for r in v])
    fl = [[float(np.float32(0.8 * math.sin(0.3 * i + c))) for c in range(2)] for i in range(frames)]
    fl[2][1] = 1.25  # float WAV may exceed [-1, 1]; it is not clipped on read
    add('float32_stereo.wav', 3, 2, 32, 16000, b''.join(struct.pack('<ff', *r) for r in fl), fl)
    v = ints(24, 3)
    add('extensible_pcm24_3ch.wav', 1, 3, 24, 48000, b''.join(struct.pack('<i', x)[:3] for r in v for x in r),
        [[x / 8388608 for x in r] for r in v], extensible=True)
    fl1 = [[float(np.float32(0.5 * math.cos(0.2 * i)))] for i in range(frames)]
    add('extensible_float32_mono.wav', 3, 1, 32, 32000, b''.join(struct.pack('<f', r[0]) for r in fl1), fl1, extensible=True)
    with open(os.path.join(OUT, 'wav.json'), 'w') as f:
        json.dump({'generator': 'tools/datasets_audio_fixtures.py', 'files': files}, f)
    # Bad inputs: an unsupported format (A-law, code 6) and a 12-bit PCM file.
    with open(os.path.join(OUT, 'wav', 'bad_alaw.wav'), 'wb') as f:
        f.write(wav_bytes(6, 1, 8000, 8, bytes(16)))


class BitWriter:
    def __init__(self):
        self.bits = []

    def put(self, value, n):
        for k in range(n - 1, -1, -1):
            self.bits.append((value >> k) & 1)

    def align(self):
        while len(self.bits) % 8:
            self.bits.append(0)

    def bytes(self):
        self.align()
        return bytes(int(''.join(map(str, self.bits[i:i + 8])), 2) for i in range(0, len(self.bits), 8))


def crc8(data):
    crc = 0
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = ((crc << 1) ^ 0x07) & 0xFF if crc & 0x80 else (crc << 1) & 0xFF
    return crc


def crc16(data):
    crc = 0
    for b in data:
        crc ^= b << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x8005) & 0xFFFF if crc & 0x8000 else (crc << 1) & 0xFFFF
    return crc


def write_flac():
    """A 16-bit stereo FLAC at 22050 Hz, 600 frames, block size 256, VERBATIM subframes."""
    os.makedirs(os.path.join(OUT, 'flac'), exist_ok=True)
    rate, channels, bps, total, block = 22050, 2, 16, 600, 256
    samples = [[int(round(20000 * math.sin(2 * math.pi * (300 + 200 * c) * i / rate))) for i in range(total)] for c in range(channels)]
    si = BitWriter()
    si.put(block, 16); si.put(block, 16); si.put(0, 24); si.put(0, 24)
    si.put(rate, 20); si.put(channels - 1, 3); si.put(bps - 1, 5); si.put(total, 36)
    si.put(0, 128)  # MD5 unknown
    streaminfo = si.bytes()
    out = b'fLaC' + bytes([0x80]) + len(streaminfo).to_bytes(3, 'big') + streaminfo
    for frame_no, start in enumerate(range(0, total, block)):
        n = min(block, total - start)
        h = BitWriter()
        h.put(0b11111111111110, 14); h.put(0, 1); h.put(0, 1)
        h.put(0b0111, 4)  # block size: 16-bit (n-1) at end of header
        h.put(0b0110, 4)  # 22.05 kHz (code 0000, 'from STREAMINFO', is valid FLAC but audio-decode's parser rejects it)
        h.put(channels - 1, 4)  # independent channels
        h.put(0b100, 3)  # 16 bits per sample
        h.put(0, 1)
        assert frame_no < 128
        h.put(frame_no, 8)  # UTF-8 coded frame number (one byte below 128)
        h.put(n - 1, 16)
        header = h.bytes()
        header += bytes([crc8(header)])
        body = BitWriter()
        for c in range(channels):
            body.put(0, 1); body.put(0b000001, 6); body.put(0, 1)  # VERBATIM, no wasted bits
            for x in samples[c][start:start + n]:
                body.put(x & 0xFFFF, 16)
        frame = header + body.bytes()
        out += frame + crc16(frame).to_bytes(2, 'big')
    with open(os.path.join(OUT, 'flac', 'tone16.flac'), 'wb') as f:
        f.write(out)
    with open(os.path.join(OUT, 'flac.json'), 'w') as f:
        json.dump({'generator': 'tools/datasets_audio_fixtures.py', 'file': 'tone16.flac', 'sampleRate': rate,
                   'channels': channels, 'samples': [[x / 32768 for x in ch] for ch in samples]}, f)


if __name__ == '__main__':
    write_resample()
    write_wavs()
    write_flac()
    print('wrote', OUT)
