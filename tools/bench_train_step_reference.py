#!/usr/bin/env python3
"""PyTorch reference timings for packages/llm-lora/bench/llm-lora.bench.ts: the MATS training step
(frozen GPT-2 + LoRA r 8 on c_attn + TransformerMapper, AdamW) and greedy generation with a KV cache,
with the same shapes and the same work as the TypeScript benchmark (see /work/briefs/status/llm-lora.md):

- world:       GPT-2 vocab 512, 256 positions, 4 layers, width 128, 4 heads;
               mapper 512 -> 40 x 128, clip 40, 4 layers, 8 heads, MLP ratio 2
- gpt2-small:  GPT-2 vocab 50257, 1024 positions, 12 layers, width 768, 12 heads;
               mapper 1024 -> 40 x 768, clip 40, 8 layers, 8 heads, MLP ratio 2, then MATS's output
               projection (Linear 768 -> 768), as the TypeScript row gpt2-small-mapper (the paper's
               MATS-GPT2 step)
- world-preset: the trainer's `world` preset step exactly: the tiny world GPT-2's shape (vocab 226,
               256 positions, 4 layers, width 128, 4 heads, inner 512), mapper 256 -> 8 x 128, clip 8,
               2 layers, 8 heads, MLP ratio 2; batch 8 right-padded rows shaped like the world's four
               tasks (instruction + answer tokens (7, 3), (4, 15), (6, 2), (26, 2), twice; padding
               masked out of attention), the loss on the answer + eos tokens only; no generation row.
- batch 8: L2-normalised random CLAP embeddings -> mapper -> 40 prefix vectors, then 32 text tokens
  (8 instruction + 23 answer + eos, random ids); causal attention over 72 positions; logits only at
  the 32 positions that predict text; cross-entropy (mean) on the 24 answer + eos targets;
  backward to mapper + LoRA only (GPT-2 frozen, random N(0, 0.02) weights); clip_grad_norm_ 1.0;
  AdamW lr 1e-4, weight decay 0.01; LoRA alpha 32, dropout 0.1 (train mode), A kaiming-uniform, B 0.
  One timed step = forward + backward + clip + optimizer step + zero_grad.
- generation: batch 1, 40 random prefix vectors + 8 prompt tokens, 32 new tokens, greedy, KV cache.
- gpt2-small is also timed with a trainable stand-in prefix [8, 40, 768] instead of the mapper
  (params.prefixSource 'stand-in'), the TypeScript row kept for comparison with earlier runs (the
  paper-size step with the mapper is its row gpt2-small-mapper); the suite pairs like with like.

Every measurement runs with torch.set_num_threads(1) (what the single-threaded wasm backend is
compared with) and again with torch's default thread count when that differs (Debian's PyTorch 1.13
on the 2-core development machine defaults to 1 thread, so there it runs once); BENCH_THREADS=1,2
asks for more. params.threads says which, params.defaultThreads what torch's default was. JSON lines in the
repository's benchmark format, names `reference/llm-lora/...`.

Run: /usr/bin/python3 tools/bench_train_step_reference.py [--only world|gpt2-small|world-preset]
Env: BENCH_WARMUP (default 1), BENCH_REPEATS (default 3), BENCH_REPEATS_SLOW (repeats for gpt2-small,
default BENCH_REPEATS), BENCH_THREADS (e.g. "1" or "1,2"; default: 1 and torch's default),
BENCH_SHAPES (comma-separated, the TypeScript benchmark's shape names: "world", "world-preset", "gpt2-small" = the
stand-in prefix, "gpt2-small-mapper" = the paper-size step with the mapper; default all), so one
variable picks the same rows on both sides.
"""
import argparse
import math
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_common import report, timed  # noqa: E402
from make_mapper_fixtures import TransformerMapper  # noqa: E402  (msclap's structure, shared with the parity fixtures)

SHAPES = {
    'world': dict(vocab=512, positions=256, layers=4, width=128, heads=4,
                  mapper=dict(clap_dim=512, width=128, prefix_length=40, clip_length=40, layers=4, heads=8, mlp_ratio=2.0)),
    'gpt2-small': dict(vocab=50257, positions=1024, layers=12, width=768, heads=12,
                       mapper=dict(clap_dim=1024, width=768, prefix_length=40, clip_length=40, layers=8, heads=8, mlp_ratio=2.0),
                       projection=True),
    # The same rows as WORLD_PRESET_ROWS in packages/llm-lora/bench/llm-lora.bench.ts.
    'world-preset': dict(vocab=226, positions=256, layers=4, width=128, heads=4,
                         mapper=dict(clap_dim=256, width=128, prefix_length=8, clip_length=8, layers=2, heads=8, mlp_ratio=2.0),
                         rows=[(7, 3), (4, 15), (6, 2), (26, 2)] * 2),
}
BATCH, INSTRUCTION, ANSWER = 8, 8, 23
LORA_R, LORA_ALPHA, LORA_DROPOUT = 8, 32, 0.1
NEW_TOKENS, PROMPT = 32, 8


def gelu_new(x):
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3.0))))


class LoraConv1D(nn.Module):
    """GPT-2's Conv1D (weight [in, out]) with an optional LoRA branch, as PEFT applies it to c_attn."""

    def __init__(self, n_in, n_out, lora=False):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(n_in, n_out) * 0.02, requires_grad=False)
        self.bias = nn.Parameter(torch.zeros(n_out), requires_grad=False)
        self.lora = lora
        if lora:
            self.lora_A = nn.Parameter(torch.empty(LORA_R, n_in))
            nn.init.kaiming_uniform_(self.lora_A, a=math.sqrt(5))
            self.lora_B = nn.Parameter(torch.zeros(n_out, LORA_R))
            self.dropout = nn.Dropout(LORA_DROPOUT)

    def forward(self, x):
        y = torch.addmm(self.bias, x.reshape(-1, x.shape[-1]), self.weight).reshape(*x.shape[:-1], -1)
        if self.lora:
            y = y + (self.dropout(x) @ self.lora_A.t() @ self.lora_B.t()) * (LORA_ALPHA / LORA_R)
        return y


class Block(nn.Module):
    def __init__(self, width, heads):
        super().__init__()
        self.heads = heads
        self.ln_1 = nn.LayerNorm(width)
        self.c_attn = LoraConv1D(width, 3 * width, lora=True)
        self.attn_proj = LoraConv1D(width, width)
        self.ln_2 = nn.LayerNorm(width)
        self.c_fc = LoraConv1D(width, 4 * width)
        self.mlp_proj = LoraConv1D(4 * width, width)

    def forward(self, x, cache=None, key_mask=None):
        b, t, c = x.shape
        q, k, v = self.c_attn(self.ln_1(x)).split(c, dim=2)
        q, k, v = (z.view(b, t, self.heads, c // self.heads).transpose(1, 2) for z in (q, k, v))
        if cache is not None:
            if 'k' in cache:
                k = torch.cat([cache['k'], k], dim=2)
                v = torch.cat([cache['v'], v], dim=2)
            cache['k'], cache['v'] = k, v
        total = k.shape[2]
        att = (q @ k.transpose(-2, -1)) / math.sqrt(c // self.heads)
        # Causal: query i (absolute position total - t + i) sees keys up to its own position.
        mask = torch.ones(t, total, dtype=torch.bool).tril(diagonal=total - t)
        if key_mask is not None:  # [b, total]: False at right padding
            mask = mask & key_mask[:, None, None, :]
        att = att.masked_fill(~mask, float('-inf')).softmax(dim=-1)
        y = (att @ v).transpose(1, 2).reshape(b, t, c)
        x = x + self.attn_proj(y)
        return x + self.mlp_proj(gelu_new(self.c_fc(self.ln_2(x))))


class Gpt2(nn.Module):
    def __init__(self, vocab, positions, layers, width, heads):
        super().__init__()
        self.wte = nn.Parameter(torch.randn(vocab, width) * 0.02, requires_grad=False)
        self.wpe = nn.Parameter(torch.randn(positions, width) * 0.01, requires_grad=False)
        self.h = nn.ModuleList([Block(width, heads) for _ in range(layers)])
        self.ln_f = nn.LayerNorm(width)
        for p in [*self.ln_f.parameters(), *(p for blk in self.h for m in (blk.ln_1, blk.ln_2) for p in m.parameters())]:
            p.requires_grad_(False)

    def hidden(self, embeds, start=0, caches=None, key_mask=None):
        x = embeds + self.wpe[start:start + embeds.shape[1]]
        for i, block in enumerate(self.h):
            x = block(x, None if caches is None else caches[i], key_mask)
        return self.ln_f(x)




def bench_shape(name, shape, threads, warmup, repeats, prefix_source='mapper', generation=True):
    torch.manual_seed(0)
    torch.set_num_threads(threads)
    m = shape['mapper']
    lm = Gpt2(shape['vocab'], shape['positions'], shape['layers'], shape['width'], shape['heads'])
    if prefix_source == 'mapper':
        mapper = TransformerMapper(m['clap_dim'], m['width'], m['prefix_length'], m['clip_length'], m['layers'], m['heads'], m['mlp_ratio'])
        if shape.get('projection'):
            mapper = nn.Sequential(mapper, nn.Linear(m['width'], shape['width']))
        mapper.train()
    else:
        stand_in = nn.Parameter(torch.randn(BATCH, m['prefix_length'], shape['width']) * 0.02)
        mapper = lambda clap: stand_in  # noqa: E731
    lm.train()
    mapper_params = list(mapper.parameters()) if prefix_source == 'mapper' else [stand_in]
    trainable = [p for p in [*mapper_params, *lm.parameters()] if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=1e-4, weight_decay=0.01)
    clap = F.normalize(torch.randn(BATCH, m['clap_dim']), dim=-1)
    vocab = shape['vocab']
    text = torch.randint(0, vocab - 1, (BATCH, INSTRUCTION + ANSWER + 1))
    text[:, -1] = vocab - 1  # eos
    P = m['prefix_length']
    T = text.shape[1]

    rows = shape.get('rows')
    if rows:
        # Right-padded rows [instruction][answer][eos][padding]; loss on answer + eos.
        T = max(i + a + 1 for i, a in rows)
        text = torch.full((BATCH, T), vocab - 1, dtype=torch.long)
        key_mask = torch.zeros(BATCH, P + T, dtype=torch.bool)
        scored = torch.zeros(BATCH, T, dtype=torch.bool)
        for b, (i, a) in enumerate(rows):
            text[b, :i + a] = torch.randint(0, vocab - 1, (i + a,))
            key_mask[b, :P + i + a + 1] = True
            scored[b, i:i + a + 1] = True
        rows_b, rows_t = scored.nonzero(as_tuple=True)
    else:
        key_mask = None

    def step():
        prefix = mapper(clap)
        embeds = torch.cat([prefix, lm.wte[text]], dim=1)
        hidden = lm.hidden(embeds, key_mask=key_mask)
        if rows:
            # The head on the positions that predict a scored token only.
            logits = hidden[rows_b, P - 1 + rows_t] @ lm.wte.t()
            loss = F.cross_entropy(logits, text[rows_b, rows_t])
        else:
            logits = hidden[:, P - 1:P - 1 + T] @ lm.wte.t()  # positions that predict the text tokens
            loss = F.cross_entropy(logits[:, INSTRUCTION:].reshape(-1, vocab), text[:, INSTRUCTION:].reshape(-1))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(trainable, 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    common = dict(framework='pytorch ' + torch.__version__, threads=threads, defaultThreads=DEFAULT_THREADS, prefixSource=prefix_source,
                  batch=BATCH, prefixTokens=P, textTokens=T, llm=dict(vocab=vocab, layers=shape['layers'], width=shape['width'], heads=shape['heads']),
                  mapper=dict(m, projection=bool(shape.get('projection'))), lora=dict(r=LORA_R, alpha=LORA_ALPHA, dropout=LORA_DROPOUT, targetModules=['c_attn']))
    if rows:
        common['rows'] = [list(r) for r in rows]
    samples = timed(step, warmup, repeats)
    ms = [s * 1000 for s in samples]
    if rows:
        median = sorted(ms)[len(ms) // 2] if len(ms) % 2 else sum(sorted(ms)[len(ms) // 2 - 1:len(ms) // 2 + 1]) / 2
        common.update(msPerStep=round(median, 2), samplesPerSecond=round(1000 * BATCH / median, 1))
    report(f'reference/llm-lora/train-step-{name}', 'ms', False, ms, common)
    if not generation:
        return

    # Greedy generation with a KV cache: prefix 40 + 8 prompt tokens, 32 new tokens, no eos stop.
    lm.eval()
    prefix = torch.randn(1, P, shape['width']) * 0.02
    prompt = text[:1, :PROMPT]

    @torch.no_grad()
    def generate():
        caches = [dict() for _ in lm.h]
        hidden = lm.hidden(torch.cat([prefix, lm.wte[prompt]], dim=1), 0, caches)
        position = P + PROMPT
        out = []
        for _ in range(NEW_TOKENS):
            token = int((hidden[0, -1] @ lm.wte.t()).argmax())
            out.append(token)
            hidden = lm.hidden(lm.wte[torch.tensor([[token]])], position, caches)
            position += 1
        return out

    samples = timed(generate, 1, max(3, repeats))
    report(f'reference/llm-lora/generate-greedy-{name}', 'tokens/s', True, [NEW_TOKENS / s for s in samples],
           dict(framework='pytorch ' + torch.__version__, threads=threads, defaultThreads=DEFAULT_THREADS,
                prefixTokens=P, promptTokens=PROMPT, newTokens=NEW_TOKENS, lora='unmerged'))


DEFAULT_THREADS = torch.get_num_threads()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--only', choices=list(SHAPES))
    args = parser.parse_args()
    warmup = int(os.environ.get('BENCH_WARMUP', '1'))
    repeats = int(os.environ.get('BENCH_REPEATS', '3'))
    repeats_slow = int(os.environ.get('BENCH_REPEATS_SLOW', str(repeats)))
    threads = [int(t) for t in os.environ.get('BENCH_THREADS', f'1,{DEFAULT_THREADS}').split(',') if t]
    threads = list(dict.fromkeys(threads))
    # (our shape, prefix source) for each of the TypeScript benchmark's shape names.
    variants = {'world': ('world', 'mapper'), 'world-preset': ('world-preset', 'mapper'), 'gpt2-small': ('gpt2-small', 'stand-in'), 'gpt2-small-mapper': ('gpt2-small', 'mapper')}
    picked = [s for s in os.environ.get('BENCH_SHAPES', ','.join(variants)).split(',') if s]
    for bad in [s for s in picked if s not in variants]:
        sys.exit(f'BENCH_SHAPES: unknown shape "{bad}", expected some of {", ".join(variants)}')
    wanted = {variants[s] for s in picked}
    for name, shape in SHAPES.items():
        if args.only and name != args.only:
            continue
        for n in threads:
            if (name, 'mapper') in wanted:
                bench_shape(name, shape, n, warmup, repeats_slow if name == 'gpt2-small' else repeats, generation=name != 'world-preset')
            if (name, 'stand-in') in wanted:
                bench_shape(name, shape, n, warmup, repeats_slow, prefix_source='stand-in', generation=False)


if __name__ == '__main__':
    main()
