import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildWordLevelTokenizer, gpt2Tokenizer, loadTokenizer, splitWords, tokenizerFromJson } from './tokenizer.js';

const fixtures = new URL('../fixtures/', import.meta.url).pathname;
const reference = JSON.parse(readFileSync(join(fixtures, 'gpt2-tokenizer-ids.json'), 'utf8'));

describe('GPT-2 BPE (r50k_base)', () => {
  const tok = gpt2Tokenizer();

  it('matches the ids of tools/make_gpt2_tokenizer_fixtures.py on tricky strings', () => {
    expect(reference.cases.length).toBeGreaterThan(15);
    for (const c of reference.cases) expect(tok.encode(c.text), JSON.stringify(c.text)).toEqual(c.ids);
  });

  it('published ids: "Hello world" = [15496, 995]; eos is 50256 after a lone space', () => {
    expect(tok.encode('Hello world')).toEqual([15496, 995]);
    expect(tok.encode('a dog barks <|endoftext|>').slice(-2)).toEqual([220, 50256]);
    expect(tok.eosId).toBe(50256);
  });

  it('decodes back to the text', () => {
    for (const c of reference.cases) expect(tok.decode(c.ids)).toBe(c.text);
  });
});

describe('tokenizer.json through @huggingface/tokenizers', () => {
  const json = buildWordLevelTokenizer(['a dog barks.', 'a bell rings, a dog barks']);

  it('builds a WordLevel vocabulary: specials first, then by count, ties alphabetical', () => {
    const vocab = (json.model as { vocab: Record<string, number> }).vocab;
    expect(vocab).toEqual({ '<|endoftext|>': 0, '<unk>': 1, '<pad>': 2, a: 3, barks: 4, dog: 5, ',': 6, '.': 7, bell: 8, rings: 9 });
    expect(splitWords('A Dog, barks!!')).toEqual(['a', 'dog', ',', 'barks', '!!']);
  });

  it('encodes known words, maps unknown words to <unk> (0.2.0 returned undefined), handles eos', () => {
    const tok = tokenizerFromJson(json);
    expect(tok.encode('A dog barks.')).toEqual([3, 5, 4, 7]);
    expect(tok.encode('a zebra barks')).toEqual([3, 1, 4]);
    expect(tok.encode('a dog <|endoftext|>')).toEqual([3, 5, 0]);
    expect(tok).toMatchObject({ eosId: 0, padId: 2, vocabSize: 10, kind: 'tokenizer.json' });
    expect(tok.decode([3, 5, 4])).toBe('a dog barks');
  });

  it('an unknown word without an unk token is an error naming the word', () => {
    const noUnk = JSON.parse(JSON.stringify(json));
    delete noUnk.model.unk_token;
    expect(() => tokenizerFromJson(noUnk).encode('a zebra')).toThrow(/token "zebra" is not in the vocabulary and the model has no unk_token/);
  });

  it('an unknown tokenizer type or a missing model is an error naming the field', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tok-'));
    writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify({ ...json, model: { type: 'SentencePieceX', vocab: {} } }));
    expect(() => loadTokenizer(dir)).toThrow(/tokenizer\.json: field "model\.type" is "SentencePieceX", expected one of BPE, WordLevel, WordPiece, Unigram/);
    writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify({ version: '1.0' }));
    expect(() => loadTokenizer(dir)).toThrow(/missing field "model"/);
    writeFileSync(join(dir, 'tokenizer.json'), '{ not json');
    expect(() => loadTokenizer(dir)).toThrow(/not valid JSON/);
  });

  it('a folder without tokenizer.json gets GPT-2 BPE', () => {
    expect(loadTokenizer(mkdtempSync(join(tmpdir(), 'tok-'))).kind).toBe('gpt2-bpe');
  });
});
