#!/usr/bin/env python3
"""PyTorch counterpart of tools/gpu/train-step.mjs, for the GPU check (tools/gpu/check.sh): the MATS
training step (TransformerMapper + output projection -> 40 prefix vectors, 32 text tokens through a
frozen random GPT-2 with LoRA r 8 on c_attn, cross-entropy on answer + eos, backward to mapper +
LoRA, clip_grad_norm_ 1, Adam lr 1e-4) at several batch sizes, and greedy generation with a KV cache
(prefix 40 + 8 prompt tokens, 32 new tokens). The modules are those of
tools/bench_train_step_reference.py (GPT-2, LoRA) and tools/make_mapper_fixtures.py (the mapper).

  python3 tools/gpu_train_step_torch.py [--model tiny|world|gpt2-small] [--batches 8,32,128] [--reps 3]
      [--device cuda|cpu]   (default: cuda when available, else cpu)

One JSON line per figure on stdout (benchmark format, names torch/train-step-<model>-b<batch> and
torch/generate-greedy-<model>, params.device). Without torch it prints one {"skipped": ...} line and
exits 0.
"""
import argparse
import json
import os
import statistics
import sys
import time

try:
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
except ImportError as err:  # the GPU machine may have no PyTorch
    print(json.dumps({'benchmark': 'torch/train-step', 'skipped': f'PyTorch not importable: {err}'}), flush=True)
    sys.exit(0)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_train_step_reference import ANSWER, INSTRUCTION, LORA_ALPHA, LORA_DROPOUT, LORA_R, Gpt2  # noqa: E402
from make_mapper_fixtures import TransformerMapper  # noqa: E402

# The shapes of tools/gpu/train-step.mjs.
SHAPES = {
    'tiny': dict(vocab=128, positions=128, layers=2, width=64, heads=4,
                 mapper=dict(clap_dim=64, width=64, prefix_length=40, clip_length=40, layers=2, heads=4, mlp_ratio=2.0)),
    'world': dict(vocab=512, positions=256, layers=4, width=128, heads=4,
                  mapper=dict(clap_dim=512, width=128, prefix_length=40, clip_length=40, layers=4, heads=8, mlp_ratio=2.0)),
    'gpt2-small': dict(vocab=50257, positions=1024, layers=12, width=768, heads=12,
                       mapper=dict(clap_dim=1024, width=768, prefix_length=40, clip_length=40, layers=8, heads=8, mlp_ratio=2.0)),
}
NEW_TOKENS, PROMPT = 32, 8


def sync(device):
    if device.type == 'cuda':
        torch.cuda.synchronize()


def timed(fn, device, warmup, repeats):
    for _ in range(warmup):
        fn()
    sync(device)
    samples = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        sync(device)
        samples.append(time.perf_counter() - t)
    return samples


def report(name, unit, higher, samples, params):
    print(json.dumps({'benchmark': name, 'value': statistics.median(samples), 'unit': unit,
                      'higherIsBetter': higher, 'samples': samples, 'params': params}), flush=True)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--model', choices=list(SHAPES), default=os.environ.get('MATS_GPU_MODEL', 'gpt2-small'))
    parser.add_argument('--batches', default='8,32,128')
    parser.add_argument('--reps', type=int, default=3)
    parser.add_argument('--warmup', type=int, default=2)
    parser.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    args = parser.parse_args()
    device = torch.device(args.device)
    shape = SHAPES[args.model]
    m = shape['mapper']
    torch.manual_seed(0)
    if device.type != 'cpu':
        # The shared modules create some tensors (the causal mask) without a device argument.
        if not hasattr(torch, 'set_default_device'):
            print(json.dumps({'benchmark': 'torch/train-step', 'skipped': f'PyTorch {torch.__version__} has no set_default_device (needs >= 2.0 for {device})'}), flush=True)
            return
        torch.set_default_device(device)
    lm = Gpt2(shape['vocab'], shape['positions'], shape['layers'], shape['width'], shape['heads']).to(device)
    mapper = TransformerMapper(m['clap_dim'], m['width'], m['prefix_length'], m['clip_length'], m['layers'], m['heads'], m['mlp_ratio']).to(device)
    projection = nn.Linear(m['width'], shape['width']).to(device)
    lm.train()
    mapper.train()
    trainable = [p for p in [*mapper.parameters(), *projection.parameters(), *lm.parameters()] if p.requires_grad]
    optimizer = torch.optim.Adam(trainable, lr=1e-4)
    vocab = shape['vocab']
    P = m['prefix_length']
    name = 'cuda ' + torch.cuda.get_device_name(device) if device.type == 'cuda' else f'cpu ({torch.get_num_threads()} threads)'
    common = dict(framework='pytorch ' + torch.__version__, device=name, model=args.model, prefixSource='mapper',
                  prefixTokens=P, textTokens=INSTRUCTION + ANSWER + 1, mapper=dict(m, projection=True),
                  lora=dict(r=LORA_R, alpha=LORA_ALPHA, dropout=LORA_DROPOUT, targetModules=['c_attn']),
                  optimizer='Adam, clip_grad_norm_ 1')

    for batch in [int(b) for b in args.batches.split(',') if b]:
        clap = F.normalize(torch.randn(batch, m['clap_dim'], device=device), dim=-1)
        text = torch.randint(0, vocab - 1, (batch, INSTRUCTION + ANSWER + 1), device=device)
        text[:, -1] = vocab - 1  # eos
        T = text.shape[1]
        losses = []

        def step():
            prefix = projection(mapper(clap))
            hidden = lm.hidden(torch.cat([prefix, lm.wte[text]], dim=1))
            logits = hidden[:, P - 1:P - 1 + T] @ lm.wte.t()
            loss = F.cross_entropy(logits[:, INSTRUCTION:].reshape(-1, vocab), text[:, INSTRUCTION:].reshape(-1))
            loss.backward()
            torch.nn.utils.clip_grad_norm_(trainable, 1.0)
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            losses.append(float(loss))  # waits for the device, like the tfjs step's loss read

        samples = timed(step, device, args.warmup, args.reps)
        report(f'torch/train-step-{args.model}-b{batch}', 'ms', False, [s * 1000 for s in samples], dict(common, batch=batch, losses=losses))

    lm.eval()
    prefix = torch.randn(1, P, shape['width'], device=device) * 0.02
    prompt = torch.randint(0, vocab - 1, (1, PROMPT), device=device)

    @torch.no_grad()
    def generate():
        caches = [dict() for _ in lm.h]
        hidden = lm.hidden(torch.cat([prefix, lm.wte[prompt]], dim=1), 0, caches)
        position = P + PROMPT
        for _ in range(NEW_TOKENS):
            token = int((hidden[0, -1] @ lm.wte.t()).argmax())
            hidden = lm.hidden(lm.wte[torch.tensor([[token]], device=device)], position, caches)
            position += 1

    samples = timed(generate, device, 1, max(3, args.reps))
    report(f'torch/generate-greedy-{args.model}', 'tokens/s', True, [NEW_TOKENS / s for s in samples],
           dict(framework='pytorch ' + torch.__version__, device=name, model=args.model, prefixTokens=P, promptTokens=PROMPT, newTokens=NEW_TOKENS, lora='unmerged'))


if __name__ == '__main__':
    main()
