#!/usr/bin/env python3
"""Reference fixtures for @mats/llm-lora, from a GPT-2 written here in PyTorch with Hugging Face's
names and layout (Conv1D weights stored [in, out], LM head tied to wte, gelu_new, causal attention
scaled by 1/sqrt(head_dim)), random weights, and a LoRA adapter in PEFT's names and file format
(lora_A.weight [r, in], lora_B.weight [out, r], nonzero B).

Writes packages/llm-lora/fixtures/:
  gpt2-tiny/            config.json + tokenizer.json (WordLevel w0..w98) + model.safetensors with the `transformer.` prefix (+ lm_head.weight)
  gpt2-tiny-noprefix/   the same weights without the prefix (+ the h.{i}.attn.bias buffers the hub file has)
  lora-tiny/            adapter_config.json + adapter_model.safetensors
  reference.json        input ids, logits (base and with LoRA), a prefix-LM loss, greedy generations

Run: /usr/bin/python3 tools/make_gpt2_fixtures.py   (PyTorch 1.13; standard library otherwise)
"""
import json
import math
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from safetensors_io import write_safetensors  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'packages', 'llm-lora', 'fixtures')

CONFIG = dict(vocab_size=101, n_positions=64, n_embd=32, n_layer=3, n_head=4, layer_norm_epsilon=1e-5)
LORA = dict(r=4, alpha=8)


def gelu_new(x):
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3.0))))


class Conv1D(torch.nn.Module):
    """HF Conv1D: y = x @ W + b with W stored [in, out]."""

    def __init__(self, n_in, n_out):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.empty(n_in, n_out))
        self.bias = torch.nn.Parameter(torch.empty(n_out))

    def forward(self, x):
        return x @ self.weight + self.bias


class LoraConv1D(torch.nn.Module):
    """PEFT's LoRA around a Conv1D (fan_in_fan_out): base(x) + scaling * lora_B(lora_A(x))."""

    def __init__(self, base, r, alpha):
        super().__init__()
        self.base = base
        n_in, n_out = base.weight.shape
        self.lora_A = torch.nn.Linear(n_in, r, bias=False)   # weight [r, in]
        self.lora_B = torch.nn.Linear(r, n_out, bias=False)  # weight [out, r]
        self.scaling = alpha / r

    def forward(self, x):
        return self.base(x) + self.lora_B(self.lora_A(x)) * self.scaling


class Attention(torch.nn.Module):
    def __init__(self, c, n_head):
        super().__init__()
        self.n_head = n_head
        self.c_attn = Conv1D(c, 3 * c)
        self.c_proj = Conv1D(c, c)

    def forward(self, x, key_mask):
        b, t, c = x.shape
        q, k, v = self.c_attn(x).split(c, dim=2)
        d = c // self.n_head
        q, k, v = [z.view(b, t, self.n_head, d).transpose(1, 2) for z in (q, k, v)]
        att = (q @ k.transpose(-2, -1)) / math.sqrt(d)
        causal = torch.tril(torch.ones(t, t, dtype=torch.bool))
        allowed = causal[None, None] & key_mask[:, None, None, :].bool()
        att = att.masked_fill(~allowed, torch.finfo(att.dtype).min)
        att = torch.softmax(att, dim=-1)
        y = (att @ v).transpose(1, 2).contiguous().view(b, t, c)
        return self.c_proj(y)


class MLP(torch.nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c_fc = Conv1D(c, 4 * c)
        self.c_proj = Conv1D(4 * c, c)

    def forward(self, x):
        return self.c_proj(gelu_new(self.c_fc(x)))


class Block(torch.nn.Module):
    def __init__(self, c, n_head, eps):
        super().__init__()
        self.ln_1 = torch.nn.LayerNorm(c, eps=eps)
        self.attn = Attention(c, n_head)
        self.ln_2 = torch.nn.LayerNorm(c, eps=eps)
        self.mlp = MLP(c)

    def forward(self, x, key_mask):
        x = x + self.attn(self.ln_1(x), key_mask)
        return x + self.mlp(self.ln_2(x))


class GPT2(torch.nn.Module):
    def __init__(self, cfg):
        super().__init__()
        c = cfg['n_embd']
        self.wte = torch.nn.Embedding(cfg['vocab_size'], c)
        self.wpe = torch.nn.Embedding(cfg['n_positions'], c)
        self.h = torch.nn.ModuleList([Block(c, cfg['n_head'], cfg['layer_norm_epsilon']) for _ in range(cfg['n_layer'])])
        self.ln_f = torch.nn.LayerNorm(c, eps=cfg['layer_norm_epsilon'])

    def forward_embeds(self, embeds, key_mask=None):
        b, t, _ = embeds.shape
        if key_mask is None:
            key_mask = torch.ones(b, t)
        x = embeds + self.wpe(torch.arange(t))[None]
        for block in self.h:
            x = block(x, key_mask)
        return self.ln_f(x) @ self.wte.weight.T  # tied head

    def forward(self, ids):
        return self.forward_embeds(self.wte(ids))


def greedy(model, embeds, steps, eos, repetition_penalty=1.0, no_repeat_ngram=0):
    """Argmax decoding, recomputing the whole sequence each step (no cache), with HF's processors
    applied to the generated tokens only."""
    out = []
    x = embeds
    for _ in range(steps):
        logits = model.forward_embeds(x)[0, -1].clone()
        if repetition_penalty != 1.0:
            for tok in set(out):
                logits[tok] = logits[tok] * repetition_penalty if logits[tok] < 0 else logits[tok] / repetition_penalty
        if no_repeat_ngram > 0 and len(out) >= no_repeat_ngram - 1:
            n = no_repeat_ngram
            tail = out[len(out) - (n - 1):]
            for i in range(len(out) - n + 1):
                if out[i:i + n - 1] == tail:
                    logits[out[i + n - 1]] = -float('inf')
        tok = int(torch.argmax(logits))
        if tok == eos:
            break
        out.append(tok)
        x = torch.cat([x, model.wte.weight[tok][None, None]], dim=1)
    return out


def main():
    torch.manual_seed(1234)
    cfg = CONFIG
    model = GPT2(cfg)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith('ln_1.weight') or name.endswith('ln_2.weight') or name.endswith('ln_f.weight'):
                p.copy_(1 + 0.1 * torch.randn_like(p))
            elif name.endswith('bias'):
                p.copy_(0.1 * torch.randn_like(p))
            else:
                p.copy_(0.3 * torch.randn_like(p))
    model.eval()
    sd = {k: v for k, v in model.state_dict().items()}

    for sub in ('gpt2-tiny', 'gpt2-tiny-noprefix', 'lora-tiny'):
        os.makedirs(os.path.join(OUT, sub), exist_ok=True)
    hf_config = dict(model_type='gpt2', architectures=['GPT2LMHeadModel'], activation_function='gelu_new',
                     n_inner=None, eos_token_id=cfg['vocab_size'] - 1, bos_token_id=cfg['vocab_size'] - 1, **cfg)
    for sub in ('gpt2-tiny', 'gpt2-tiny-noprefix'):
        with open(os.path.join(OUT, sub, 'config.json'), 'w') as f:
            json.dump(hf_config, f, indent=2)
    # A small WordLevel tokenizer.json covering the 101 ids (w0..w98, <unk>, <|endoftext|> last).
    vocab = {f'w{i}': i for i in range(cfg['vocab_size'] - 2)}
    vocab['<unk>'] = cfg['vocab_size'] - 2
    vocab['<|endoftext|>'] = cfg['vocab_size'] - 1
    tokenizer = dict(version='1.0', truncation=None, padding=None,
                     added_tokens=[dict(id=vocab[t], content=t, single_word=False, lstrip=False, rstrip=False,
                                        normalized=False, special=True) for t in ('<unk>', '<|endoftext|>')],
                     normalizer=None, pre_tokenizer=dict(type='WhitespaceSplit'), post_processor=None, decoder=None,
                     model=dict(type='WordLevel', vocab=vocab, unk_token='<unk>'))
    for sub in ('gpt2-tiny', 'gpt2-tiny-noprefix'):
        with open(os.path.join(OUT, sub, 'tokenizer.json'), 'w') as f:
            json.dump(tokenizer, f)
    prefixed = {'transformer.' + k: v for k, v in sd.items()}
    prefixed['lm_head.weight'] = sd['wte.weight']
    write_safetensors(os.path.join(OUT, 'gpt2-tiny', 'model.safetensors'), prefixed, {'format': 'pt'})
    plain = dict(sd)
    t = cfg['n_positions']
    for i in range(cfg['n_layer']):
        plain[f'h.{i}.attn.bias'] = torch.tril(torch.ones(t, t)).view(1, 1, t, t)
    write_safetensors(os.path.join(OUT, 'gpt2-tiny-noprefix', 'model.safetensors'), plain, {'format': 'pt'})

    ids = torch.tensor([[5, 17, 42, 99, 0, 63, 8], [100, 1, 2, 3, 50, 50, 77]])
    with torch.no_grad():
        base_logits = model(ids)

        # A prefix-LM loss: [prefix][instruction][answer][eos], CE on answer + eos, computed one
        # example at a time without padding (the TypeScript side pads and masks a batch).
        eos = cfg['vocab_size'] - 1
        prefix = 0.5 * torch.randn(2, 3, cfg['n_embd'])
        examples = [dict(instruction=[4, 9, 16], answer=[25, 36]), dict(instruction=[7], answer=[11, 13, 17, 19, 23])]
        total, count = 0.0, 0
        for b, ex in enumerate(examples):
            text = ex['instruction'] + ex['answer'] + [eos]
            emb = torch.cat([prefix[b:b + 1], model.wte.weight[torch.tensor(text)][None]], dim=1)
            logits = model.forward_embeds(emb)[0]
            p = prefix.shape[1]
            for j in range(len(ex['instruction']), len(text)):
                lp = torch.log_softmax(logits[p - 1 + j], dim=-1)
                total += -float(lp[text[j]])
                count += 1
        loss = total / count

        gen_embeds = torch.cat([prefix[0:1], model.wte.weight[torch.tensor([4, 9, 16])][None]], dim=1)
        greedy_plain = greedy(model, gen_embeds, 12, eos)
        greedy_processed = greedy(model, gen_embeds, 12, eos, repetition_penalty=2.0, no_repeat_ngram=2)

        # LoRA on c_attn with nonzero B, in PEFT's names.
        lora_sd = {}
        for i, block in enumerate(model.h):
            wrapped = LoraConv1D(block.attn.c_attn, LORA['r'], LORA['alpha'])
            wrapped.lora_A.weight.copy_(0.2 * torch.randn_like(wrapped.lora_A.weight))
            wrapped.lora_B.weight.copy_(0.2 * torch.randn_like(wrapped.lora_B.weight))
            block.attn.c_attn = wrapped
            lora_sd[f'base_model.model.transformer.h.{i}.attn.c_attn.lora_A.weight'] = wrapped.lora_A.weight
            lora_sd[f'base_model.model.transformer.h.{i}.attn.c_attn.lora_B.weight'] = wrapped.lora_B.weight
        lora_logits = model(ids)
    write_safetensors(os.path.join(OUT, 'lora-tiny', 'adapter_model.safetensors'), lora_sd, {'format': 'pt'})
    with open(os.path.join(OUT, 'lora-tiny', 'adapter_config.json'), 'w') as f:
        json.dump(dict(peft_type='LORA', task_type='CAUSAL_LM', base_model_name_or_path='gpt2-tiny', r=LORA['r'],
                       lora_alpha=LORA['alpha'], lora_dropout=0.1, target_modules=['c_attn'], fan_in_fan_out=True,
                       bias='none', inference_mode=True, modules_to_save=None), f, indent=2)

    # torch.optim.AdamW and clip_grad_norm_ on fixed gradients, as the optimizer reference.
    p1 = torch.nn.Parameter(torch.tensor([1.0, -2.0, 0.5]))
    p2 = torch.nn.Parameter(torch.tensor([[0.3, -0.1], [0.0, 2.0]]))
    opt = torch.optim.AdamW([p1, p2], lr=0.1, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01)
    adam_grads = [
        [[0.5, -1.0, 2.0], [[0.1, 0.2], [-0.3, 4.0]]],
        [[-0.5, 0.25, 1.0], [[1.0, -1.0], [0.0, 0.5]]],
        [[3.0, 0.0, -2.0], [[0.2, 0.2], [0.2, 0.2]]],
    ]
    adam_lrs = [0.1, 0.05, 0.02]
    adam_params = []
    clip_norms = []
    for (g1, g2), lr in zip(adam_grads, adam_lrs):
        for group in opt.param_groups:
            group['lr'] = lr
        p1.grad = torch.tensor(g1)
        p2.grad = torch.tensor(g2)
        clip_norms.append(float(torch.nn.utils.clip_grad_norm_([p1, p2], 1.0)))
        opt.step()
        adam_params.append([p1.detach().tolist(), p2.detach().flatten().tolist()])

    ref = dict(
        source='tools/make_gpt2_fixtures.py',
        config=cfg,
        ids=ids.tolist(),
        logits=[round(float(v), 7) for v in base_logits.flatten()],
        lora_logits=[round(float(v), 7) for v in lora_logits.flatten()],
        prefix=[round(float(v), 7) for v in prefix.flatten()],
        prefix_shape=list(prefix.shape),
        examples=examples,
        prefix_lm_loss=loss,
        adamw=dict(lr=adam_lrs, weight_decay=0.01, max_grad_norm=1.0, init=[[1.0, -2.0, 0.5], [0.3, -0.1, 0.0, 2.0]],
                   grads=[[g1, [v for row in g2 for v in row]] for g1, g2 in adam_grads], params=adam_params, norms=clip_norms),
        generation=dict(prompt=[4, 9, 16], greedy=greedy_plain, greedy_rep2_ngram2=greedy_processed),
    )
    with open(os.path.join(OUT, 'reference.json'), 'w') as f:
        json.dump(ref, f)
    print('wrote', OUT, 'loss', loss, 'greedy', greedy_plain, greedy_processed)


if __name__ == '__main__':
    main()
