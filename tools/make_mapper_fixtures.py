#!/usr/bin/env python3
"""Reference fixtures for @mats/mapper.

Defines the msclap / Pengi / MATS TransformerMapper in plain PyTorch (same module structure and
state-dict names as msclap's `models/mapper.py`: MultiHeadAttention with `to_queries` and
`to_keys_values` without bias and `project` with bias, pre-LayerNorm TransformerLayer, ReLU
MlpTransformer, `linear` + `prefix_const` in TransformerMapper), plus MATS's optional output
projection (a Linear width -> llmDim applied to the mapper output). Saves random weights as
safetensors (written with struct + json, no safetensors package needed) under PyTorch names and
the reference outputs (and gradients) the TypeScript tests compare with.

Run: /usr/bin/python3 tools/make_mapper_fixtures.py   (PyTorch 1.13)
"""
import json
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from safetensors_io import write_safetensors  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'packages', 'mapper', 'fixtures')


class MultiHeadAttention(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.heads = heads
        self.scale = (dim // heads) ** -0.5
        self.to_queries = nn.Linear(dim, dim, bias=False)
        self.to_keys_values = nn.Linear(dim, 2 * dim, bias=False)
        self.project = nn.Linear(dim, dim)

    def forward(self, x):
        b, n, c = x.shape
        q = self.to_queries(x).reshape(b, n, self.heads, c // self.heads)
        # msclap: reshape(b, m, 2, heads, head_dim): the first `dim` outputs are keys, the rest values.
        kv = self.to_keys_values(x).reshape(b, n, 2, self.heads, c // self.heads)
        k, v = kv[:, :, 0], kv[:, :, 1]
        att = torch.einsum('bnhd,bmhd->bnmh', q, k) * self.scale
        att = att.softmax(dim=2)
        out = torch.einsum('bnmh,bmhd->bnhd', att, v).reshape(b, n, c)
        return self.project(out)


class MlpTransformer(nn.Module):
    def __init__(self, dim, hidden):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x):
        return self.fc2(F.relu(self.fc1(x)))


class TransformerLayer(nn.Module):
    def __init__(self, dim, heads, mlp_ratio):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = MultiHeadAttention(dim, heads)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = MlpTransformer(dim, int(dim * mlp_ratio))

    def forward(self, x):
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class Transformer(nn.Module):
    def __init__(self, dim, heads, layers, mlp_ratio):
        super().__init__()
        self.layers = nn.ModuleList([TransformerLayer(dim, heads, mlp_ratio) for _ in range(layers)])

    def forward(self, x):
        for layer in self.layers:
            x = layer(x)
        return x


class TransformerMapper(nn.Module):
    def __init__(self, clap_dim, width, prefix_length, clip_length, layers, heads, mlp_ratio):
        super().__init__()
        self.clip_length = clip_length
        self.transformer = Transformer(width, heads, layers, mlp_ratio)
        self.linear = nn.Linear(clap_dim, clip_length * width)
        self.prefix_const = nn.Parameter(torch.randn(prefix_length, width))

    def forward(self, x):
        x = self.linear(x).view(x.shape[0], self.clip_length, -1)
        prefix = self.prefix_const.unsqueeze(0).expand(x.shape[0], *self.prefix_const.shape)
        out = self.transformer(torch.cat((x, prefix), dim=1))
        return out[:, self.clip_length:]


def rows(t):
    return [[round(float(v), 9) for v in r] for r in t.reshape(t.shape[0], -1)]


def make_case(name, seed, cfg, prefix='', projection_prefix=None):
    torch.manual_seed(seed)
    mapper = TransformerMapper(cfg['clapDim'], cfg['width'], cfg['prefixLength'], cfg['clipLength'],
                               cfg['layers'], cfg['heads'], cfg['mlpRatio'])
    # Default init leaves LayerNorm at ones/zeros; randomise it so the test sees gamma and beta.
    with torch.no_grad():
        for module in mapper.modules():
            if isinstance(module, nn.LayerNorm):
                module.weight.uniform_(0.5, 1.5)
                module.bias.uniform_(-0.3, 0.3)
    projection = None
    if cfg.get('llmDim') is not None:
        projection = nn.Linear(cfg['width'], cfg['llmDim'])

    raw = torch.randn(3, cfg['clapDim']) * 0.7 + 0.1
    normalised = F.normalize(raw, p=2, dim=-1)

    def run(x):
        out = mapper(x)
        return projection(out) if projection is not None else out

    with torch.no_grad():
        out_normalised = run(normalised)
        out_raw = run(raw)

    # Gradients of sum(out * R) for a fixed R, on the normalised input: checks the training path.
    r = torch.randn(out_normalised.shape)
    mapper.zero_grad()
    if projection is not None:
        projection.zero_grad()
    (run(normalised) * r).sum().backward()

    tensors = [(prefix + k, v) for k, v in mapper.state_dict().items()]
    grads = [(prefix + k, p.grad) for k, p in mapper.named_parameters()]
    if projection is not None:
        pp = projection_prefix if projection_prefix is not None else prefix + 'projection.'
        tensors += [(pp + k, v) for k, v in projection.state_dict().items()]
        grads += [(pp + k, p.grad) for k, p in projection.named_parameters()]
    # An unrelated tensor, as in a full checkpoint: the loader must ignore it.
    if prefix:
        tensors.append(('gpt.wte.weight', torch.randn(5, 4)))

    write_safetensors(os.path.join(OUT, name + '.safetensors'), tensors, {'format': 'pt'})
    write_safetensors(os.path.join(OUT, name + '.grads.safetensors'), grads, {'format': 'pt'})
    with open(os.path.join(OUT, name + '.json'), 'w') as f:
        json.dump({
            'config': cfg,
            'prefix': prefix,
            'projectionPrefix': projection_prefix,
            'input': rows(raw),
            'outputShape': list(out_normalised.shape),
            'output': rows(out_normalised),
            'outputWithoutNormalisation': rows(out_raw),
            'gradWeights': rows(r),
        }, f)


def main():
    os.makedirs(OUT, exist_ok=True)
    base = {'clapDim': 32, 'width': 16, 'prefixLength': 4, 'clipLength': 3, 'layers': 2, 'mlpRatio': 2.0}
    # msclap's captioner: 8 heads (hard-coded there), no output projection, names under clap_project.
    make_case('msclap', 1, dict(base, heads=8), prefix='clap_project.')
    # MATS-style output projection width -> llmDim, default names `projection.*`, no prefix.
    make_case('projection', 2, dict(base, heads=4, llmDim=24))
    # The official MATS checkpoint layout: mapper under audio_mapper., projection under audio_llama_proj.,
    # a projection even though llmDim == width, and a non-integer MLP ratio (hidden = int(16 * 1.5)).
    make_case('mats', 3, dict(base, heads=2, llmDim=16, mlpRatio=1.5), prefix='audio_mapper.',
              projection_prefix='audio_llama_proj.')


if __name__ == '__main__':
    main()
