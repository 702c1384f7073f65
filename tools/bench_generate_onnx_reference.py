#!/usr/bin/env python3
"""PyTorch reference for packages/model/bench/onnx.bench.ts: greedy generation with a KV cache, the
same work as the ONNX rows `model/generate-onnx-<shape>-t1` (paired by name and batch): random GPT-2
weights of the world and GPT-2-small shapes (the module of bench_train_step_reference.py, LoRA B = 0,
so merged or not is the same model), batch 1 and 32, 40 random prefix vectors + 8 prompt tokens,
16 new tokens (BENCH_NEW_TOKENS; GPT-2 small at batch 32: BENCH_LARGE_NEW_TOKENS, 8, as the ONNX
bench), no eos stop; tokens/s = batch x new tokens / wall time (prefill included).

Run: /usr/bin/python3 tools/bench_generate_onnx_reference.py [--only world|gpt2-small]
Env: BENCH_WARMUP (1), BENCH_REPEATS (2), BENCH_BATCHES ("1,32"), BENCH_THREADS (default: 1 and
torch's default).
"""
import argparse
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_common import report, timed  # noqa: E402
from bench_train_step_reference import SHAPES, Gpt2  # noqa: E402

PREFIX, PROMPT = 40, 8
NEW_TOKENS = int(os.environ.get('BENCH_NEW_TOKENS', '16'))
LARGE_NEW_TOKENS = int(os.environ.get('BENCH_LARGE_NEW_TOKENS', '8'))
DEFAULT_THREADS = torch.get_num_threads()


def bench(name, shape, batch, threads, warmup, repeats):
    torch.manual_seed(0)
    torch.set_num_threads(threads)
    lm = Gpt2(shape['vocab'], shape['positions'], shape['layers'], shape['width'], shape['heads']).eval()
    prefix = torch.randn(batch, PREFIX, shape['width']) * 0.02
    prompt = torch.randint(0, shape['vocab'] - 1, (batch, PROMPT))
    new_tokens = LARGE_NEW_TOKENS if name == 'gpt2-small' and batch >= 32 else NEW_TOKENS

    @torch.no_grad()
    def generate():
        caches = [dict() for _ in lm.h]
        hidden = lm.hidden(torch.cat([prefix, lm.wte[prompt]], dim=1), 0, caches)
        position = PREFIX + PROMPT
        for i in range(new_tokens):
            tokens = (hidden[:, -1] @ lm.wte.t()).argmax(dim=-1)
            if i == new_tokens - 1:
                break
            hidden = lm.hidden(lm.wte[tokens[:, None]], position, caches)
            position += 1

    samples = timed(generate, warmup, repeats)
    report(f'reference/model/generate-onnx-{name}-t1', 'tokens/s', True, [batch * new_tokens / s for s in samples],
           dict(framework='pytorch ' + torch.__version__, threads=threads, defaultThreads=DEFAULT_THREADS, batch=batch,
                prefixTokens=PREFIX, promptTokens=PROMPT, newTokens=new_tokens, weights='random'))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--only', choices=list(SHAPES))
    args = parser.parse_args()
    warmup = int(os.environ.get('BENCH_WARMUP', '1'))
    repeats = int(os.environ.get('BENCH_REPEATS', '2'))
    batches = [int(b) for b in os.environ.get('BENCH_BATCHES', '1,32').split(',') if b]
    threads = list(dict.fromkeys(int(t) for t in os.environ.get('BENCH_THREADS', f'1,{DEFAULT_THREADS}').split(',') if t))
    for name, shape in SHAPES.items():
        if args.only and name != args.only:
            continue
        for batch in batches:
            for n in threads:
                bench(name, shape, batch, n, warmup, repeats)


if __name__ == '__main__':
    main()
