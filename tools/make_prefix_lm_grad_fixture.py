#!/usr/bin/env python3
"""Gradient reference for @mats/llm-lora's prefix-LM loss: a small random GPT-2 in Hugging Face
layout (Conv1D weights [in, out], gelu_new, tied head, causal + padding mask, layer-norm eps from the
config; the modules of tools/make_gpt2_fixtures.py, written by hand in PyTorch because
`transformers` is not installed), random non-zero LoRA A/B on every c_attn (PEFT names and layout),
a random prefix, and a right-padded batch of 3 rows of different lengths laid out as
buildPrefixLmBatch does: [prefix][instruction][answer][eos][padding = eos], attention mask 0 on the
padding, cross-entropy averaged over the answer + eos tokens only. Computed in float64, stored in
float32.

Writes packages/llm-lora/fixtures/:
  gpt2-grad/        config.json + tokenizer.json (WordLevel) + model.safetensors (`transformer.` names)
  lora-grad/        adapter_config.json + adapter_model.safetensors (lora_A.weight [r, in], lora_B.weight [out, r])
  prefix-lm-grad/   reference.json (prefix, examples, loss) + grads.safetensors (d loss / d prefix and
                    d loss / d every lora_A.weight and lora_B.weight, under the adapter's tensor names)

Run: /usr/bin/python3 tools/make_prefix_lm_grad_fixture.py   (Debian python3-torch 1.13)
"""
import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_gpt2_fixtures import GPT2, LoraConv1D  # noqa: E402
from safetensors_io import write_safetensors  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'packages', 'llm-lora', 'fixtures')

# A layer-norm eps that is not the default, so a loader that ignores the config field fails.
CONFIG = dict(vocab_size=53, n_positions=32, n_embd=24, n_layer=2, n_head=3, layer_norm_epsilon=1e-3)
LORA = dict(r=4, alpha=12)
PREFIX_LENGTH = 3
EXAMPLES = [
    dict(instruction=[4, 9, 16, 2], answer=[25, 36]),
    dict(instruction=[7], answer=[11, 13, 17, 19, 23, 29]),
    dict(instruction=[30, 31, 32], answer=[40]),
]


def main():
    torch.manual_seed(20251201)
    torch.set_default_dtype(torch.float64)
    cfg = CONFIG
    eos = cfg['vocab_size'] - 1
    model = GPT2(cfg)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith(('ln_1.weight', 'ln_2.weight', 'ln_f.weight')):
                p.copy_(1 + 0.1 * torch.randn_like(p))
            elif name.endswith('bias'):
                p.copy_(0.1 * torch.randn_like(p))
            else:
                p.copy_(0.2 * torch.randn_like(p))
            p.copy_(p.float().double())  # the float32 values the files hold
    base_sd = {'transformer.' + k: v.detach().clone() for k, v in model.state_dict().items()}

    lora = {}
    for i, block in enumerate(model.h):
        wrapped = LoraConv1D(block.attn.c_attn, LORA['r'], LORA['alpha'])
        with torch.no_grad():
            wrapped.lora_A.weight.copy_(0.3 * torch.randn_like(wrapped.lora_A.weight))
            wrapped.lora_B.weight.copy_(0.3 * torch.randn_like(wrapped.lora_B.weight))
            for w in (wrapped.lora_A.weight, wrapped.lora_B.weight):
                w.copy_(w.float().double())
        block.attn.c_attn = wrapped
        lora[f'base_model.model.transformer.h.{i}.attn.c_attn.lora_A.weight'] = wrapped.lora_A.weight
        lora[f'base_model.model.transformer.h.{i}.attn.c_attn.lora_B.weight'] = wrapped.lora_B.weight
    for name, p in model.named_parameters():
        p.requires_grad_('lora_' in name)

    prefix = (0.5 * torch.randn(len(EXAMPLES), PREFIX_LENGTH, cfg['n_embd'])).float().double().requires_grad_(True)

    # The padded batch, exactly as buildPrefixLmBatch lays it out (pad id = eos).
    rows = [ex['instruction'] + ex['answer'] + [eos] for ex in EXAMPLES]
    length = max(len(r) for r in rows)
    ids = torch.tensor([r + [eos] * (length - len(r)) for r in rows])
    key_mask = torch.tensor([[1.0] * (PREFIX_LENGTH + len(r)) + [0.0] * (length - len(r)) for r in rows])
    embeds = torch.cat([prefix, model.wte.weight[ids]], dim=1)
    logits = model.forward_embeds(embeds, key_mask)
    total = 0.0
    count = 0
    for b, (ex, r) in enumerate(zip(EXAMPLES, rows)):
        for j in range(len(ex['instruction']), len(r)):
            total = total - torch.log_softmax(logits[b, PREFIX_LENGTH - 1 + j], dim=-1)[r[j]]
            count += 1
    loss = total / count
    loss.backward()

    for sub in ('gpt2-grad', 'lora-grad', 'prefix-lm-grad'):
        os.makedirs(os.path.join(OUT, sub), exist_ok=True)
    hf_config = dict(model_type='gpt2', architectures=['GPT2LMHeadModel'], activation_function='gelu_new',
                     n_inner=None, eos_token_id=eos, bos_token_id=eos, **cfg)
    with open(os.path.join(OUT, 'gpt2-grad', 'config.json'), 'w') as f:
        json.dump(hf_config, f, indent=2)
    vocab = {f'w{i}': i for i in range(cfg['vocab_size'] - 2)}
    vocab['<unk>'] = cfg['vocab_size'] - 2
    vocab['<|endoftext|>'] = eos
    tokenizer = dict(version='1.0', truncation=None, padding=None,
                     added_tokens=[dict(id=vocab[t], content=t, single_word=False, lstrip=False, rstrip=False,
                                        normalized=False, special=True) for t in ('<unk>', '<|endoftext|>')],
                     normalizer=None, pre_tokenizer=dict(type='WhitespaceSplit'), post_processor=None, decoder=None,
                     model=dict(type='WordLevel', vocab=vocab, unk_token='<unk>'))
    with open(os.path.join(OUT, 'gpt2-grad', 'tokenizer.json'), 'w') as f:
        json.dump(tokenizer, f)
    write_safetensors(os.path.join(OUT, 'gpt2-grad', 'model.safetensors'), base_sd, {'format': 'pt'})
    write_safetensors(os.path.join(OUT, 'lora-grad', 'adapter_model.safetensors'), lora, {'format': 'pt'})
    with open(os.path.join(OUT, 'lora-grad', 'adapter_config.json'), 'w') as f:
        json.dump(dict(peft_type='LORA', task_type='CAUSAL_LM', base_model_name_or_path='gpt2-grad', r=LORA['r'],
                       lora_alpha=LORA['alpha'], lora_dropout=0.1, target_modules=['c_attn'], fan_in_fan_out=True,
                       bias='none', inference_mode=False, modules_to_save=None), f, indent=2)
    grads = [('prefix', prefix.grad)] + [(name, p.grad) for name, p in lora.items()]
    write_safetensors(os.path.join(OUT, 'prefix-lm-grad', 'grads.safetensors'), grads, {'format': 'pt'})
    ref = dict(source='tools/make_prefix_lm_grad_fixture.py', prefix_length=PREFIX_LENGTH, eos=eos,
               examples=EXAMPLES, loss_tokens=count, loss=float(loss),
               prefix=[float(v) for v in prefix.detach().float().flatten()], prefix_shape=list(prefix.shape))
    with open(os.path.join(OUT, 'prefix-lm-grad', 'reference.json'), 'w') as f:
        json.dump(ref, f)
    print('wrote', OUT, 'loss', float(loss), 'tokens', count)


if __name__ == '__main__':
    main()
