#!/usr/bin/env python3
"""PyTorch reference timings for packages/mapper/bench/mapper.bench.ts, same shapes and work: the
paper-size TransformerMapper (1024 -> 40 x 768, clip 40, 8 layers, 8 heads, MLP ratio 2, msclap's
structure from tools/make_mapper_fixtures.py):
- mapper/forward: rows per second for batches of 1 and 8 (L2 normalisation included, no grad);
- mapper/train-step: batch 8, MSE to a fixed random target, backward, Adam lr 1e-4, zero_grad.
Each with torch.set_num_threads(1) and with torch's default thread count when that differs
(params.threads; BENCH_THREADS=1,2 asks for more). JSON lines in the
repository's benchmark format, names `reference/mapper/...`.

Run: /usr/bin/python3 tools/bench_mapper_reference.py
Env: BENCH_WARMUP (default 1), BENCH_REPEATS (default 3), BENCH_THREADS (e.g. "1,2"; default: 1 and torch's default).
"""
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_common import report, timed  # noqa: E402
from make_mapper_fixtures import TransformerMapper  # noqa: E402

CLAP, WIDTH, PREFIX, CLIP, LAYERS, HEADS, RATIO = 1024, 768, 40, 40, 8, 8, 2.0
DEFAULT_THREADS = torch.get_num_threads()




def main():
    warmup = int(os.environ.get('BENCH_WARMUP', '1'))
    repeats = int(os.environ.get('BENCH_REPEATS', '3'))
    threads = [int(t) for t in os.environ.get('BENCH_THREADS', f'1,{DEFAULT_THREADS}').split(',') if t]
    for n in dict.fromkeys(threads):
        torch.set_num_threads(n)
        torch.manual_seed(0)
        mapper = TransformerMapper(CLAP, WIDTH, PREFIX, CLIP, LAYERS, HEADS, RATIO)
        common = dict(framework='pytorch ' + torch.__version__, threads=n, defaultThreads=DEFAULT_THREADS,
                      clapDim=CLAP, prefixLength=PREFIX, width=WIDTH, layers=LAYERS, heads=HEADS)
        for batch in (1, 8):
            x = torch.randn(batch, CLAP)

            @torch.no_grad()
            def forward():
                return mapper(F.normalize(x, dim=-1))

            samples = timed(forward, warmup, repeats)
            report('reference/mapper/forward', 'rows/s', True, [batch / s for s in samples], dict(common, batch=batch))

        batch = 8
        x = torch.randn(batch, CLAP)
        target = torch.randn(batch, PREFIX, WIDTH)
        optimizer = torch.optim.Adam(mapper.parameters(), lr=1e-4)

        def step():
            loss = F.mse_loss(mapper(x), target)
            loss.backward()
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)

        samples = timed(step, warmup, repeats)
        report('reference/mapper/train-step', 'ms', False, [s * 1000 for s in samples], dict(common, batch=batch, optimizer='adam'))


if __name__ == '__main__':
    main()
