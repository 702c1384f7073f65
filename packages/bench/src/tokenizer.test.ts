import { describe, expect, it } from 'vitest';
import { ptbTokenize, ptbTokenizeRaw, ptbTokenizeToString } from './tokenizer.js';

// Expected lists follow the Stanford PTBTokenizer (CoreNLP 3.4.1, -preserveLines -lowerCase) as
// pycocoevalcap runs it, then pycocoevalcap's removal of its punctuation list.
describe('ptbTokenize', () => {
  const cases: [string, string[]][] = [
    ['A dog barks.', ['a', 'dog', 'barks']],
    ['The man is speaking, and birds chirp!', ['the', 'man', 'is', 'speaking', 'and', 'birds', 'chirp']],
    // contractions the PTB way
    ["Don't stop", ['do', "n't", 'stop']],
    ["I can't hear it and it won't stop", ['i', 'ca', "n't", 'hear', 'it', 'and', 'it', 'wo', "n't", 'stop']],
    ["The dog's bark", ['the', 'dog', "'s", 'bark']],
    ["I'm sure they're here, we've seen he'll come and she'd go", ['i', "'m", 'sure', 'they', "'re", 'here', 'we', "'ve", 'seen', 'he', "'ll", 'come', 'and', 'she', "'d", 'go']],
    ["The dogs' bowls", ['the', 'dogs', 'bowls']], // plural possessive: the lone ' is removed
    ['You cannot go, gonna rain', ['you', 'can', 'not', 'go', 'gon', 'na', 'rain']],
    ['Ten o\'clock bells', ['ten', "o'clock", 'bells']],
    // quotes: "..." become `` and '' and are removed; single quotes likewise
    ['He said "hello" loudly', ['he', 'said', 'hello', 'loudly']],
    ["a 'quoted' word", ['a', 'quoted', 'word']],
    ['\u201cCurly\u201d and \u2018single\u2019 quotes, don\u2019t', ['curly', 'and', 'single', 'quotes', 'do', "n't"]],
    // hyphens: inside a word they stay; lone hyphens and -- are removed
    ['A well-known sound - loud -- then quiet', ['a', 'well-known', 'sound', 'loud', 'then', 'quiet']],
    // unicode dashes become -- and are removed
    ['rain\u2014heavy rain\u2013then calm', ['rain', 'heavy', 'rain', 'then', 'calm']],
    // numbers keep their separators
    ['About 1,000 people and 3.5 dogs at 9:30', ['about', '1,000', 'people', 'and', '3.5', 'dogs', 'at', '9:30']],
    ['Prices of $5 and 50%', ['prices', 'of', '$', '5', 'and', '50', '%']],
    // parentheses become -lrb- / -rrb- and SURVIVE: pycocoevalcap's list holds the upper-case forms
    ['A car (red) passes [fast] {x}', ['a', 'car', '-lrb-', 'red', '-rrb-', 'passes', '-lsb-', 'fast', '-rsb-', '-lcb-', 'x', '-rcb-']],
    // trailing periods, ellipses and abbreviations
    ['Wait... then Mr. Smith left the U.S. today.', ['wait', 'then', 'mr.', 'smith', 'left', 'the', 'u.s.', 'today']],
    ['Someone speaks\u2026 then silence', ['someone', 'speaks', 'then', 'silence']],
    ['Birds; wind: water?', ['birds', 'wind', 'water']],
    ['What?! No!!', ['what', '?!', 'no', '!!']], // runs of ?/! are one token, not in the list
    ['and/or', ['and\\/or']],
    ['a * b ** c == d', ['a', '\\*', 'b', '\\*\\*', 'c', '==', 'd']],
    ['It drops to -5 degrees, +3 later, 10-20 times', ['it', 'drops', 'to', '-5', 'degrees', '+3', 'later', '10-20', 'times']],
    ['a .5 second beep.', ['a', '.5', 'second', 'beep']],
    ['   ', []],
    ['', []],
    ['Line one\nline two', ['line', 'one', 'line', 'two']],
  ];
  for (const [text, tokens] of cases) {
    it(JSON.stringify(text), () => {
      expect(ptbTokenize(text)).toEqual(tokens);
    });
  }

  it('keeps the removed tokens in the raw stream', () => {
    expect(ptbTokenizeRaw('He said "hi" (twice).')).toEqual(['he', 'said', '``', 'hi', "''", '-lrb-', 'twice', '-rrb-', '.']);
  });

  it('joins with single spaces for scoring', () => {
    expect(ptbTokenizeToString('A  dog,   barking.')).toBe('a dog barking');
  });

  it('rejects non-strings', () => {
    expect(() => ptbTokenize(5 as unknown as string)).toThrow(/expected a string, got number/);
  });
});
