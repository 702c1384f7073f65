import { describe, expect, it } from 'vitest';
import { END_OF_TEXT_ID, gpt2Encode, prepareClapText } from './text-prep.js';

describe('gpt2Encode', () => {
  it("gives GPT-2's published ids", () => {
    // Hugging Face GPT2Tokenizer docs: "Hello world" -> [15496, 995], " Hello world" -> [18435, 995].
    expect(gpt2Encode('Hello world')).toEqual([15496, 995]);
    expect(gpt2Encode(' Hello world')).toEqual([18435, 995]);
    // 220 is the lone space, 0 is '!', 13 is '.', 262 is ' the'.
    expect(gpt2Encode(' ')).toEqual([220]);
    expect(gpt2Encode('!')).toEqual([0]);
    expect(gpt2Encode(' the.')).toEqual([262, 13]);
  });

  it('splits on <|endoftext|> as the special token, as Hugging Face does', () => {
    expect(gpt2Encode('Hello world <|endoftext|>')).toEqual([15496, 995, 220, END_OF_TEXT_ID]);
    expect(gpt2Encode('<|endoftext|>Hello world<|endoftext|>')).toEqual([END_OF_TEXT_ID, 15496, 995, END_OF_TEXT_ID]);
  });
});

describe('prepareClapText', () => {
  it("appends ' <|endoftext|>', pads with id 0 to 77, masks, and pools at the end-of-text token", () => {
    const batch = prepareClapText(['Hello world', ' Hello world']);
    expect(batch.length).toBe(77);
    expect(Array.from(batch.inputIds.subarray(0, 6), Number)).toEqual([15496, 995, 220, 50256, 0, 0]);
    expect(Array.from(batch.inputIds.subarray(77, 81), Number)).toEqual([18435, 995, 220, 50256]);
    expect(Array.from(batch.attentionMask.subarray(0, 6), Number)).toEqual([1, 1, 1, 1, 0, 0]);
    expect(batch.attentionMask.subarray(0, 77).reduce((a, b) => a + b, 0n)).toBe(4n);
    expect(batch.pooledIndex).toEqual([3, 3]);
    for (let r = 0; r < 2; r++) expect(Number(batch.inputIds[r * 77 + batch.pooledIndex[r]])).toBe(END_OF_TEXT_ID);
  });

  it('truncates a long text keeping <|endoftext|> last, and says so', () => {
    const warnings: string[] = [];
    const long = Array.from({ length: 100 }, () => 'dog').join(' ');
    const batch = prepareClapText([long], { onWarning: (m) => warnings.push(m) });
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/text 0 has 102 tokens, more than 77: truncated/);
    expect(Number(batch.inputIds[76])).toBe(END_OF_TEXT_ID);
    expect(Number(batch.inputIds[0])).toBe(9703); // 'dog'
    expect(Number(batch.inputIds[1])).toBe(3290); // ' dog'
    expect(batch.pooledIndex).toEqual([76]);
    expect(Array.from(batch.attentionMask).every((v) => v === 1n)).toBe(true);
  });

  it("warns that msclap's pooling counts '!' (id 0) as padding", () => {
    const warnings: string[] = [];
    const batch = prepareClapText(['Wow!'], { onWarning: (m) => warnings.push(m) });
    expect(Array.from(batch.inputIds.subarray(0, 4), Number)).toEqual([22017, 0, 220, 50256]);
    expect(batch.pooledIndex).toEqual([2]);
    expect(warnings[0]).toMatch(/pools at token 2 instead of the end-of-text token at 3/);
  });
});
