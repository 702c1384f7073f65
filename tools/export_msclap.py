#!/usr/bin/env python3
"""Export msclap's 2023 CLAP encoders to the ONNX contract of @mats/clap (DESIGN.md section 4).

    pip install msclap onnx onnxruntime          # where msclap works (it downloads its weights)
    python tools/export_msclap.py --out models/msclap-2023 [--weights CLAP_weights_2023.pth] [--opset 17]

Writes
    <out>/msclap_audio.onnx   input  `waveform`        float32 [batch, 308700]  (7 s at 44.1 kHz)
                              output `audio_embedding` float32 [batch, 1024]
                              The whole HTSAT front end is inside the graph: torchlibrosa's STFT
                              (n_fft 1024, hop 320, Hann, centre, reflect), the Slaney log-mel filterbank
                              built for 32 kHz (64 bins, 50-14000 Hz, 10*log10 with amin 1e-10), bn0,
                              the Swin transformer, the latent pooling and msclap's projection head.
    <out>/msclap_text.onnx    inputs `input_ids`, `attention_mask` int64 [batch, 77]
                              output `text_embedding`  float32 [batch, 1024]
                              GPT-2, the hidden state at torch.ne(input_ids, 0).sum(-1) - 1 (msclap's
                              pooling; pad id 0 is '!'), msclap's projection head.
    <out>/reference.json      a few texts with msclap's own token ids and PyTorch embeddings, so the
                              TypeScript side (OnnxClap / prepareClapText) can be checked against them.
Then it runs both graphs with onnxruntime on batch sizes 1 and 3 and compares them with PyTorch.

Use the result from TypeScript:
    loadClap({ type: 'onnx', audioModel: '<out>/msclap_audio.onnx', textModel: '<out>/msclap_text.onnx' })

WHAT WAS AND WAS NOT RUN: this script was written against msclap's public source (msclap/CLAPWrapper.py,
msclap/models/clap.py, msclap/models/htsat.py) in an environment WITHOUT msclap, transformers,
torchlibrosa or network access, so it has NOT been run end to end. `python -m py_compile` passed.
The parts that could be exercised - exporting a log-mel front end, last-non-pad-token pooling and the
projection head with torch 1.13 at opset 17, dynamic batch, and checking the graphs with
onnxruntime-node - were exercised by tools/make_clap_fixtures.py on a small random-weight model with the
same contract. If the parity check at the end fails for the audio model, the likeliest cause is the
bicubic interpolation HTSAT applies to stretch 965 frames to 1024 (ONNX Resize, cubic, align_corners):
look at the reported maximum difference before trusting the export.
"""
import argparse
import json
import os
import sys

import numpy as np
import torch
import torch.nn as nn

CLIP_SAMPLES = 308700  # 7 s at 44.1 kHz: CLAPWrapper.load_audio_into_tensor with duration 7
TEXT_LEN = 77


class AudioGraph(nn.Module):
    """waveform [batch, 308700] -> the projected audio embedding (CLAPWrapper._get_audio_embeddings)."""

    def __init__(self, audio_encoder):
        super().__init__()
        self.audio_encoder = audio_encoder

    def forward(self, waveform):
        return self.audio_encoder(waveform)[0]


class TextGraph(nn.Module):
    """input_ids, attention_mask [batch, 77] -> the projected text embedding (CLAPWrapper._get_text_embeddings)."""

    def __init__(self, caption_encoder):
        super().__init__()
        self.caption_encoder = caption_encoder

    def forward(self, input_ids, attention_mask):
        return self.caption_encoder({'input_ids': input_ids, 'attention_mask': attention_mask})


def patch_htsat_for_dynamic_batch():
    """msclap's Swin `window_reverse` computes the batch as int(...) of a shape, which tracing freezes
    to the export batch size; recompute it with -1 so the graph keeps a dynamic batch axis."""
    import msclap.models.htsat as htsat

    def window_reverse(windows, window_size, H, W):
        x = windows.view(-1, H // window_size, W // window_size, window_size, window_size, windows.shape[-1])
        return x.permute(0, 1, 3, 2, 4, 5).contiguous().view(-1, H, W, windows.shape[-1])

    htsat.window_reverse = window_reverse


def load_msclap(weights):
    from msclap import CLAP  # CLAPWrapper

    wrapper = CLAP(model_fp=weights, version='2023', use_cuda=False)
    model = wrapper.clap.eval()
    # The exported text graph needs only the last hidden state.
    if hasattr(model.caption_encoder.base, 'config'):
        model.caption_encoder.base.config.use_cache = False
    return wrapper, model


def export(module, args, path, input_names, output_name, opset):
    dynamic = {name: {0: 'batch'} for name in input_names}
    dynamic[output_name] = {0: 'batch'}
    torch.onnx.export(module, args, path, input_names=input_names, output_names=[output_name],
                      dynamic_axes=dynamic, opset_version=opset, do_constant_folding=True)


def check_contract(path, expected):
    import onnx

    model = onnx.load(path)
    onnx.checker.check_model(model)
    types = {1: 'float32', 7: 'int64'}
    got = []
    for inp in model.graph.input:
        t = inp.type.tensor_type
        dims = [d.dim_param or d.dim_value for d in t.shape.dim]
        got.append((inp.name, types.get(t.elem_type, t.elem_type), dims[1:]))
    if got != expected:
        raise SystemExit(f'{path}: inputs {got} do not match the contract {expected}')


def max_diff(a, b):
    return float(np.max(np.abs(np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64))))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--out', required=True, help='output folder')
    parser.add_argument('--weights', default=None, help='CLAP_weights_2023.pth (default: msclap downloads it)')
    parser.add_argument('--opset', type=int, default=17)
    parser.add_argument('--audio-tolerance', type=float, default=1e-3)
    parser.add_argument('--text-tolerance', type=float, default=1e-4)
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    torch.manual_seed(0)

    patch_htsat_for_dynamic_batch()
    wrapper, model = load_msclap(args.weights)
    audio_graph = AudioGraph(model.audio_encoder).eval()
    text_graph = TextGraph(model.caption_encoder).eval()

    audio_path = os.path.join(args.out, 'msclap_audio.onnx')
    text_path = os.path.join(args.out, 'msclap_text.onnx')
    with torch.no_grad():
        export(audio_graph, (torch.randn(2, CLIP_SAMPLES) * 0.1,), audio_path, ['waveform'], 'audio_embedding', args.opset)
        sample = wrapper.preprocess_text(['a dog barks', 'rain falls on a roof'])
        export(text_graph, (sample['input_ids'].long(), sample['attention_mask'].long()), text_path,
               ['input_ids', 'attention_mask'], 'text_embedding', args.opset)
    check_contract(audio_path, [('waveform', 'float32', [CLIP_SAMPLES])])
    check_contract(text_path, [('input_ids', 'int64', [TEXT_LEN]), ('attention_mask', 'int64', [TEXT_LEN])])

    import onnxruntime as ort

    audio_session = ort.InferenceSession(audio_path, providers=['CPUExecutionProvider'])
    text_session = ort.InferenceSession(text_path, providers=['CPUExecutionProvider'])
    ok = True
    texts = ['Hello world', 'a dog barks', 'This is a sound of siren.']
    for batch in (1, 3):
        t = np.arange(CLIP_SAMPLES) / 44100.0
        waves = np.stack([(0.3 * np.sin(2 * np.pi * (220 * (k + 1)) * t) + 0.05 * np.random.default_rng(k).standard_normal(CLIP_SAMPLES))
                          for k in range(batch)]).astype(np.float32)
        with torch.no_grad():
            want = audio_graph(torch.from_numpy(waves)).numpy()
        got = audio_session.run(None, {'waveform': waves})[0]
        d = max_diff(got, want)
        ok &= d <= args.audio_tolerance
        print(f'audio batch {batch}: max |onnxruntime - pytorch| = {d:.2e} (tolerance {args.audio_tolerance})')

        tok = wrapper.preprocess_text(texts[:batch])
        ids = tok['input_ids'].long()
        mask = tok['attention_mask'].long()
        with torch.no_grad():
            want = text_graph(ids, mask).numpy()
            # the wrapper's own path must agree with the graph we exported
            direct = wrapper._get_text_embeddings(tok).numpy()
        got = text_session.run(None, {'input_ids': ids.numpy(), 'attention_mask': mask.numpy()})[0]
        d = max_diff(got, want)
        ok &= d <= args.text_tolerance and max_diff(want, direct) <= 1e-6
        print(f'text batch {batch}: max |onnxruntime - pytorch| = {d:.2e} (tolerance {args.text_tolerance})')

    tok = wrapper.preprocess_text(texts)
    with torch.no_grad():
        emb = wrapper._get_text_embeddings(tok).numpy()
    with open(os.path.join(args.out, 'reference.json'), 'w') as f:
        json.dump({'texts': texts,
                   'input_ids': tok['input_ids'].tolist(),
                   'attention_mask': tok['attention_mask'].tolist(),
                   'text_embedding_head': [row[:8].tolist() for row in emb]}, f, indent=1)
    print(f'wrote {audio_path}, {text_path} and reference.json')
    if not ok:
        print('PARITY CHECK FAILED: do not use these files as they are', file=sys.stderr)
        sys.exit(1)


if __name__ == '__main__':
    main()
