#!/usr/bin/python3
"""Test fixtures for @mats/clap, written to packages/clap/fixtures/.

Run with Debian's PyTorch (1.13) and onnx:   /usr/bin/python3 tools/make_clap_fixtures.py

1. A small random-weight ONNX model pair with EXACTLY the msclap ONNX contract of DESIGN.md section 4
   (audio: `waveform` float32 [batch, 308700] -> [batch, 1024]; text: `input_ids` and
   `attention_mask` int64 [batch, 77] -> [batch, 1024]), dynamic batch. The audio graph has a real
   (small) log-mel front end (framed DFT as a conv1d, Slaney filterbank, 10*log10 with amin, a
   BatchNorm), the text graph pools at the last non-pad token exactly as msclap does
   (`torch.ne(input_ids, 0).sum(-1) - 1`), and both end in msclap's projection head shape
   (linear, GELU, linear, residual, LayerNorm; linear2 is low-rank here to keep the file small).
   Reference inputs are prepared the way msclap's CLAPWrapper does (channels flattened with
   reshape(-1), short clips tiled to 7 s at 44.1 kHz) and the PyTorch outputs are saved.
2. Two ONNX models that break the contract (wrong input name/length; a missing input).
3. Log-mel spectrogram references: torch.stft (Hann, centre, reflect padding) and a Slaney mel
   filterbank built here from its formula (librosa's `htk=False, norm='slaney'`), power to dB.

Tests only read the files written here; neither CI nor users need Python.
"""
import json
import math
import os
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from safetensors_io import write_safetensors  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'packages', 'clap', 'fixtures')

SAMPLE_RATE = 44100
CLIP_SAMPLES = 308700  # 7 s at 44.1 kHz
TEXT_LEN = 77
DIM = 1024


# ---------------------------------------------------------------- Slaney mel filterbank, from the formula
def hz_to_mel_slaney(f):
    f = np.asarray(f, dtype=np.float64)
    f_sp = 200.0 / 3
    min_log_hz = 1000.0
    min_log_mel = min_log_hz / f_sp
    logstep = math.log(6.4) / 27.0
    return np.where(f >= min_log_hz, min_log_mel + np.log(np.maximum(f, 1e-12) / min_log_hz) / logstep, f / f_sp)


def mel_to_hz_slaney(m):
    m = np.asarray(m, dtype=np.float64)
    f_sp = 200.0 / 3
    min_log_hz = 1000.0
    min_log_mel = min_log_hz / f_sp
    logstep = math.log(6.4) / 27.0
    return np.where(m >= min_log_mel, min_log_hz * np.exp(logstep * (m - min_log_mel)), f_sp * m)


def slaney_filterbank(sr, n_fft, n_mels, fmin, fmax):
    """[n_mels, n_fft // 2 + 1] triangles on the Slaney mel scale with area normalisation 2 / width."""
    fft_freqs = np.linspace(0, sr / 2, n_fft // 2 + 1)
    mel_pts = mel_to_hz_slaney(np.linspace(hz_to_mel_slaney(fmin), hz_to_mel_slaney(fmax), n_mels + 2))
    fb = np.zeros((n_mels, len(fft_freqs)))
    for i in range(n_mels):
        lo, mid, hi = mel_pts[i], mel_pts[i + 1], mel_pts[i + 2]
        rising = (fft_freqs - lo) / (mid - lo)
        falling = (hi - fft_freqs) / (hi - mid)
        fb[i] = np.maximum(0, np.minimum(rising, falling)) * (2.0 / (hi - lo))
    return fb


def log_mel_reference(signal, sr, n_fft, hop, n_mels, fmin, fmax, amin=1e-10):
    """torch.stft power spectrogram -> Slaney mel -> 10*log10(max(amin, x)) (ref 1.0), in float64."""
    x = torch.from_numpy(np.asarray(signal, dtype=np.float64))
    window = torch.hann_window(n_fft, periodic=True, dtype=torch.float64)
    spec = torch.stft(x, n_fft=n_fft, hop_length=hop, win_length=n_fft, window=window, center=True,
                      pad_mode='reflect', return_complex=True)
    power = spec.abs() ** 2  # [freq, frames]
    fb = torch.from_numpy(slaney_filterbank(sr, n_fft, n_mels, fmin, fmax))
    mel = fb @ power  # [mels, frames]
    db = 10.0 * torch.log10(torch.clamp(mel, min=amin))
    return db.T.contiguous().numpy(), fb.numpy()  # [frames, mels]


# ---------------------------------------------------------------- the fixture models
class Projection(nn.Module):
    """msclap's head (linear1, GELU, linear2, residual, LayerNorm); linear2 is low-rank to keep the file small."""

    def __init__(self, d_in, d_out, rank=8):
        super().__init__()
        self.linear1 = nn.Linear(d_in, d_out, bias=False)
        self.down = nn.Linear(d_out, rank, bias=False)
        self.up = nn.Linear(rank, d_out, bias=False)
        self.layer_norm = nn.LayerNorm(d_out)

    def forward(self, x):
        e1 = self.linear1(x)
        return self.layer_norm(e1 + self.up(self.down(F.gelu(e1))))


class TinyAudioEncoder(nn.Module):
    """waveform [B, 308700] -> log-mel (DFT as conv1d, Slaney fb, dB, BatchNorm) -> frame MLP -> mean+max pool -> head."""

    def __init__(self, n_fft=256, hop=320, n_mels=16, fb_rate=32000, fmin=50, fmax=14000):
        super().__init__()
        self.n_fft, self.hop = n_fft, hop
        n = torch.arange(n_fft, dtype=torch.float64)
        k = torch.arange(n_fft // 2 + 1, dtype=torch.float64)
        window = torch.hann_window(n_fft, periodic=True, dtype=torch.float64)
        angle = 2 * math.pi * k[:, None] * n[None, :] / n_fft
        self.register_buffer('dft_real', (torch.cos(angle) * window).float().unsqueeze(1))
        self.register_buffer('dft_imag', (-torch.sin(angle) * window).float().unsqueeze(1))
        self.register_buffer('mel_fb', torch.from_numpy(slaney_filterbank(fb_rate, n_fft, n_mels, fmin, fmax).T).float())
        self.bn0 = nn.BatchNorm1d(n_mels)
        self.frame_mlp = nn.Linear(n_mels, 32)
        self.projection = Projection(64, DIM)

    def forward(self, waveform):
        x = F.pad(waveform.unsqueeze(1), (self.n_fft // 2, self.n_fft // 2), mode='reflect')
        real = F.conv1d(x, self.dft_real, stride=self.hop)
        imag = F.conv1d(x, self.dft_imag, stride=self.hop)
        power = real * real + imag * imag  # [B, freq, frames]
        mel = torch.matmul(power.transpose(1, 2), self.mel_fb)  # [B, frames, mels]
        db = 10.0 * torch.log10(torch.clamp(mel, min=1e-10))
        db = self.bn0(db.transpose(1, 2)).transpose(1, 2)
        h = F.gelu(self.frame_mlp(db))
        pooled = torch.cat([h.mean(dim=1), h.max(dim=1).values], dim=1)
        return self.projection(pooled)


class TinyTextEncoder(nn.Module):
    """ids -> hashed embedding + positions -> one causal attention block -> hidden state at the last non-pad token -> head."""

    def __init__(self, buckets=509, width=32):
        super().__init__()
        self.buckets = buckets
        self.embed = nn.Embedding(buckets, width)
        self.pos = nn.Parameter(torch.randn(TEXT_LEN, width) * 0.1)
        self.ln1 = nn.LayerNorm(width)
        self.qkv = nn.Linear(width, 3 * width)
        self.ln2 = nn.LayerNorm(width)
        self.mlp = nn.Linear(width, width)
        self.projection = Projection(width, DIM)
        self.register_buffer('causal', torch.tril(torch.ones(TEXT_LEN, TEXT_LEN)).bool())

    def forward(self, input_ids, attention_mask):
        x = self.embed(torch.remainder(input_ids, self.buckets)) + self.pos
        q, k, v = self.qkv(self.ln1(x)).chunk(3, dim=-1)
        scores = torch.matmul(q, k.transpose(1, 2)) / math.sqrt(q.shape[-1])
        allowed = self.causal.unsqueeze(0) & (attention_mask.unsqueeze(1) > 0)
        scores = scores.masked_fill(~allowed, -1e9)
        x = x + torch.matmul(torch.softmax(scores, dim=-1), v)
        hidden = x + F.gelu(self.mlp(self.ln2(x)))
        # msclap's TextEncoder: sequence_lengths = torch.ne(input_ids, 0).sum(-1) - 1 (pad id 0 is '!')
        last = torch.ne(input_ids, 0).sum(-1) - 1
        index = last.view(-1, 1, 1).expand(-1, 1, hidden.shape[-1])
        pooled = torch.gather(hidden, 1, index).squeeze(1)
        return self.projection(pooled)


def randomise(module, seed):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in module.named_parameters():
            p.copy_(torch.randn(p.shape, generator=g) * (0.5 if 'weight' in name or 'embed' in name else 0.1))
        for m in module.modules():
            if isinstance(m, nn.BatchNorm1d):
                m.running_mean.copy_(torch.randn(m.num_features, generator=g) * 5 - 40)
                m.running_var.copy_(torch.rand(m.num_features, generator=g) * 200 + 50)
    module.eval()


# ---------------------------------------------------------------- msclap's waveform / text preparation
def prepare_waveform(channels, mode='flatten'):
    """CLAPWrapper.load_audio_into_tensor for audio already at 44.1 kHz and shorter than 7 s."""
    x = np.stack(channels).astype(np.float32)
    x = x.reshape(-1) if mode == 'flatten' else x.mean(axis=0)
    repeat = int(np.ceil(CLIP_SAMPLES / x.shape[0]))
    return np.tile(x, repeat)[:CLIP_SAMPLES]


# Ids from GPT-2's BPE (r50k_base). "Hello world" -> [15496, 995] and " Hello world" -> [18435, 995]
# are the examples in Hugging Face's GPT2Tokenizer documentation; 220 is the lone space, 50256 is
# <|endoftext|>; "a dog barks" -> [64, 3290, 2318, 591]. msclap appends ' <|endoftext|>'.
TEXTS = [
    ('Hello world', [15496, 995, 220, 50256]),
    (' Hello world', [18435, 995, 220, 50256]),
    ('a dog barks', [64, 3290, 2318, 591, 220, 50256]),
]


def pad_ids(ids):
    ids_row = ids + [0] * (TEXT_LEN - len(ids))
    mask_row = [1] * len(ids) + [0] * (TEXT_LEN - len(ids))
    return ids_row, mask_row


# ---------------------------------------------------------------- safetensors writer (spec: 8-byte LE header length, JSON, data)
def export(model, args, path, input_names, output_name):
    dynamic = {n: {0: 'batch'} for n in input_names}
    dynamic[output_name] = {0: 'batch'}
    torch.onnx.export(model, args, path, input_names=input_names, output_names=[output_name],
                      dynamic_axes=dynamic, opset_version=17, do_constant_folding=True)


class WrongAudio(nn.Module):
    def forward(self, audio):
        return audio[:, :8].repeat(1, 128)


class TextWithoutMask(nn.Module):
    def forward(self, input_ids):
        return input_ids.float().mean(dim=1, keepdim=True).repeat(1, DIM)


def main():
    os.makedirs(OUT, exist_ok=True)
    torch.manual_seed(0)
    rng = np.random.default_rng(1234)

    audio_model = TinyAudioEncoder()
    randomise(audio_model, 1)
    text_model = TinyTextEncoder()
    randomise(text_model, 2)

    export(audio_model, (torch.zeros(2, CLIP_SAMPLES),), os.path.join(OUT, 'tiny_audio.onnx'), ['waveform'], 'audio_embedding')
    export(text_model, (torch.ones(2, TEXT_LEN, dtype=torch.long), torch.ones(2, TEXT_LEN, dtype=torch.long)),
           os.path.join(OUT, 'tiny_text.onnx'), ['input_ids', 'attention_mask'], 'text_embedding')
    export(WrongAudio(), (torch.zeros(2, 16000),), os.path.join(OUT, 'bad_audio_input.onnx'), ['audio'], 'out')
    export(TextWithoutMask(), (torch.ones(2, TEXT_LEN, dtype=torch.long),), os.path.join(OUT, 'bad_text_inputs.onnx'), ['input_ids'], 'out')

    # Reference clips at 44.1 kHz (no resampling involved): a mono tone, a stereo clip, a mono noise burst.
    t_a = np.arange(4410) / SAMPLE_RATE
    clip_a = (0.5 * np.sin(2 * np.pi * 440 * t_a) + 0.05 * rng.standard_normal(4410)).astype(np.float32)
    t_b = np.arange(3000) / SAMPLE_RATE
    clip_b_left = (0.3 * np.sin(2 * np.pi * 1000 * t_b)).astype(np.float32)
    clip_b_right = (0.2 * rng.standard_normal(3000)).astype(np.float32)
    clip_c = (0.8 * rng.standard_normal(5000) * np.exp(-np.arange(5000) / 800)).astype(np.float32)

    waves = np.stack([prepare_waveform([clip_a]), prepare_waveform([clip_b_left, clip_b_right]), prepare_waveform([clip_c])])
    wave_b_mean = prepare_waveform([clip_b_left, clip_b_right], mode='mean')[None, :]
    ids, masks = zip(*[pad_ids(i) for _, i in TEXTS])
    ids = torch.tensor(ids, dtype=torch.long)
    masks = torch.tensor(masks, dtype=torch.long)
    with torch.no_grad():
        audio3 = audio_model(torch.from_numpy(waves)).numpy()
        audio1 = audio_model(torch.from_numpy(waves[:1])).numpy()
        audio_b_mean = audio_model(torch.from_numpy(wave_b_mean)).numpy()
        text3 = text_model(ids, masks).numpy()
        text1 = text_model(ids[:1], masks[:1]).numpy()

    # Sanity check of the exported graphs with onnx's reference evaluator is not available in onnx 1.12;
    # the TypeScript test (onnxruntime-node) is the parity check. Structural check here:
    import onnx
    for name in ['tiny_audio.onnx', 'tiny_text.onnx']:
        onnx.checker.check_model(onnx.load(os.path.join(OUT, name)))

    write_safetensors(os.path.join(OUT, 'onnx_reference.safetensors'), {
        'clip_a': clip_a, 'clip_b_left': clip_b_left, 'clip_b_right': clip_b_right, 'clip_c': clip_c,
        'audio_batch3': audio3.astype(np.float32), 'audio_batch1': audio1.astype(np.float32),
        'audio_b_mean': audio_b_mean.astype(np.float32),
        'input_ids': ids.numpy(), 'attention_mask': masks.numpy(),
        'text_batch3': text3.astype(np.float32), 'text_batch1': text1.astype(np.float32),
        # a few prepared samples so the TS waveform preparation can be checked on its own
        'wave_b_head': waves[1, :7000].astype(np.float32), 'wave_b_tail': waves[1, -7000:].astype(np.float32),
        'wave_b_mean_head': wave_b_mean[0, :7000].astype(np.float32),
    }, {'source': 'tools/make_clap_fixtures.py', 'texts': json.dumps([t for t, _ in TEXTS]), 'sample_rate': str(SAMPLE_RATE)})

    # Log-mel references (float64 maths, stored as float32).
    t = np.arange(8000) / 16000
    chirp = np.sin(2 * np.pi * (200 * t + 0.5 * 3000 * t ** 2)) * 0.5
    signal = (chirp + 0.1 * rng.standard_normal(len(t))).astype(np.float32)
    signal[3000:3200] = 0.0  # a silent stretch exercises amin
    msclap_db, msclap_fb = log_mel_reference(signal.astype(np.float64), 32000, 1024, 320, 64, 50, 14000)
    tiny_db, tiny_fb = log_mel_reference(signal.astype(np.float64), 16000, 512, 160, 64, 0, 8000)
    write_safetensors(os.path.join(OUT, 'logmel_reference.safetensors'), {
        'signal': signal,
        'msclap_db': msclap_db.astype(np.float32), 'msclap_fb': msclap_fb.astype(np.float32),
        'tiny_db': tiny_db.astype(np.float32), 'tiny_fb': tiny_fb.astype(np.float32),
    }, {'source': 'tools/make_clap_fixtures.py',
        'msclap': json.dumps({'sampleRate': 32000, 'nFft': 1024, 'hopLength': 320, 'nMels': 64, 'fmin': 50, 'fmax': 14000}),
        'tiny': json.dumps({'sampleRate': 16000, 'nFft': 512, 'hopLength': 160, 'nMels': 64, 'fmin': 0, 'fmax': 8000})})
    for f in sorted(os.listdir(OUT)):
        print(f, os.path.getsize(os.path.join(OUT, f)))


if __name__ == '__main__':
    main()
