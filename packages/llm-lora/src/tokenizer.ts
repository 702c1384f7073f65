import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseJson } from '@mats/core';
import { Tokenizer as HfTokenizer } from '@huggingface/tokenizers';
import * as r50k from 'gpt-tokenizer/encoding/r50k_base';

/** Text <-> token ids. */
export interface TextTokenizer {
  /** `gpt2-bpe` (r50k_base) or `tokenizer.json`. */
  readonly kind: 'gpt2-bpe' | 'tokenizer.json';
  readonly vocabSize: number;
  /** The `<|endoftext|>` id, used as end of sequence. */
  readonly eosId: number;
  /** Id used to pad batches (never attended to, never in the loss). */
  readonly padId: number;
  encode(text: string): number[];
  decode(ids: number[]): string;
}

export const END_OF_TEXT = '<|endoftext|>';
const GPT2_EOS = 50256;

/**
 * GPT-2's byte-level BPE (r50k_base). Like Hugging Face's GPT2Tokenizer, the text is first split on
 * `<|endoftext|>` (so `'a dog barks <|endoftext|>'` ends in 220, 50256); the pieces are encoded as
 * ordinary text, never as special tokens.
 */
export function gpt2Tokenizer(): TextTokenizer {
  const plain = { allowedSpecial: new Set<string>(), disallowedSpecial: new Set<string>() };
  return {
    kind: 'gpt2-bpe',
    vocabSize: 50257,
    eosId: GPT2_EOS,
    padId: GPT2_EOS,
    encode(text: string): number[] {
      const ids: number[] = [];
      const parts = text.split(END_OF_TEXT);
      parts.forEach((part, i) => {
        if (i > 0) ids.push(GPT2_EOS);
        if (part.length > 0) for (const id of r50k.encode(part, plain)) ids.push(id);
      });
      return ids;
    },
    decode(ids: number[]): string {
      return r50k.decode(ids);
    },
  };
}

const KNOWN_MODELS = new Set(['BPE', 'WordLevel', 'WordPiece', 'Unigram']);

/**
 * A Hugging Face `tokenizer.json` through @huggingface/tokenizers. Works around 0.2.0 returning
 * `undefined` ids for out-of-vocabulary words with a WordLevel model: such words get the model's
 * `unk_token` id (what the Rust library does), or an error when the model has no unk token.
 */
export function tokenizerFromJson(json: Record<string, any>, tokenizerConfig: Record<string, any> = {}, source = 'tokenizer.json'): TextTokenizer {
  const model = json?.model;
  if (!model || typeof model !== 'object') throw new Error(`${source}: missing field "model"`);
  const type = model.type ?? (model.vocab && model.merges ? 'BPE' : undefined);
  if (!KNOWN_MODELS.has(type)) throw new Error(`${source}: field "model.type" is ${JSON.stringify(model.type)}, expected one of ${[...KNOWN_MODELS].join(', ')}`);
  // tokenizers.js insists on a decoder entry; `null` is valid in tokenizer.json.
  const inner = new HfTokenizer({ decoder: null, ...json }, tokenizerConfig);
  const vocab = inner.get_vocab(true);
  const unkToken: string | undefined = model.unk_token ?? undefined;
  const unkId = unkToken !== undefined ? vocab.get(unkToken) : undefined;
  const eosName: string = typeof tokenizerConfig.eos_token === 'string' ? tokenizerConfig.eos_token : END_OF_TEXT;
  const eosId = vocab.get(eosName);
  if (eosId === undefined) throw new Error(`${source}: the vocabulary has no end-of-text token "${eosName}"`);
  const padName: string | undefined = typeof tokenizerConfig.pad_token === 'string' ? tokenizerConfig.pad_token : vocab.has('<pad>') ? '<pad>' : undefined;
  const padId = padName !== undefined ? vocab.get(padName) ?? eosId : eosId;
  let maxId = -1;
  for (const id of vocab.values()) if (id > maxId) maxId = id;
  return {
    kind: 'tokenizer.json',
    vocabSize: maxId + 1,
    eosId,
    padId,
    encode(text: string): number[] {
      const enc = inner.encode(text, { add_special_tokens: false });
      return enc.ids.map((id: number | undefined, i: number) => {
        if (typeof id === 'number') return id;
        if (unkId === undefined) throw new Error(`${source}: token ${JSON.stringify(enc.tokens[i])} is not in the vocabulary and the model has no unk_token`);
        return unkId;
      });
    },
    decode(ids: number[]): string {
      return inner.decode(ids, { skip_special_tokens: false });
    },
  };
}

/** The tokenizer of a model folder: `tokenizer.json` when present, otherwise GPT-2's BPE. */
export function loadTokenizer(dir: string): TextTokenizer {
  const path = join(dir, 'tokenizer.json');
  if (!existsSync(path)) return gpt2Tokenizer();
  let json: Record<string, any>;
  try {
    json = parseJson(readFileSync(path, 'utf8')) as Record<string, any>;
  } catch (err) {
    throw new Error(`${path}: not valid JSON (${(err as Error).message})`);
  }
  const configPath = join(dir, 'tokenizer_config.json');
  const tokenizerConfig = existsSync(configPath) ? (parseJson(readFileSync(configPath, 'utf8')) as Record<string, any>) : {};
  return tokenizerFromJson(json, tokenizerConfig, path);
}

export interface WordLevelOptions {
  /** Words seen fewer times than this map to `<unk>` (default 1: keep every word). */
  minCount?: number;
}

/** Lower-cases and splits like HF's `Whitespace` pre-tokenizer: runs of word characters or of punctuation. */
export function splitWords(text: string): string[] {
  return text.toLowerCase().match(/\w+|[^\w\s]+/gu) ?? [];
}

/**
 * A Hugging Face WordLevel `tokenizer.json` for a closed-vocabulary text corpus: ids 0, 1, 2 are
 * `<|endoftext|>`, `<unk>`, `<pad>`, then words by descending count (ties alphabetical).
 */
export function buildWordLevelTokenizer(texts: Iterable<string>, options: WordLevelOptions = {}): Record<string, unknown> {
  const minCount = options.minCount ?? 1;
  const counts = new Map<string, number>();
  for (const text of texts) for (const w of splitWords(text)) counts.set(w, (counts.get(w) ?? 0) + 1);
  const specials = [END_OF_TEXT, '<unk>', '<pad>'];
  const words = [...counts.entries()]
    .filter(([w, c]) => c >= minCount && !specials.includes(w))
    .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
    .map(([w]) => w);
  const vocab: Record<string, number> = {};
  [...specials, ...words].forEach((w, i) => (vocab[w] = i));
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: specials.map((content, id) => ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true })),
    normalizer: { type: 'Lowercase' },
    pre_tokenizer: { type: 'Whitespace' },
    post_processor: null,
    decoder: null,
    model: { type: 'WordLevel', vocab, unk_token: '<unk>' },
  };
}
