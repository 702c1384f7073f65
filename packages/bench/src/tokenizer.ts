/**
 * A PTB-style tokenizer that behaves like pycocoevalcap's `PTBTokenizer`, which runs Stanford
 * CoreNLP 3.4.1 (`edu.stanford.nlp.process.PTBTokenizer -preserveLines -lowerCase`) on each caption
 * and then drops the tokens in {@link COCO_PUNCTUATION}.
 *
 * What it reproduces (each case is in tokenizer.test.ts):
 * - lower case (CoreNLP lower-cases the *output* token, so `(` becomes `-LRB-` then `-lrb-`; the
 *   removal list holds the upper-case `-LRB-`, so in pycocoevalcap bracket tokens survive as
 *   `-lrb-` / `-rrb-` / `-lsb-` / `-rsb-` / `-lcb-` / `-rcb-`; we keep that quirk);
 * - punctuation split off words: `. , ; : ! ? " ' ``` and brackets; a trailing period is its own token;
 * - quotes become `` `` `` / `''` / `` ` `` / `'` (all removed afterwards);
 * - contractions split the PTB way: `don't -> do n't`, `can't -> ca n't`, `won't -> wo n't`,
 *   `dog's -> dog 's`, `i'm -> i 'm`, `they're -> they 're`, `we've -> we 've`, `he'll -> he 'll`,
 *   `she'd -> she 'd`, `dogs' -> dogs '`; `cannot -> can not`, `gonna -> gon na`, `gotta -> got ta`,
 *   `wanna -> wan na`, `gimme -> gim me`, `lemme -> lem me`;
 * - kept whole: hyphenated words (`well-known`), numbers with separators (`1,000`, `3.5`, `9:30`),
 *   acronyms and common abbreviations (`u.s.`, `e.g.`, `mr.`), `o'clock`, `at&t`;
 * - unicode dashes (U+2012..U+2015) become `--`, `…` becomes `...`, curly quotes become PTB quotes;
 * - `/` and `*` are escaped as `\/` and `\*` (PTB3 `escapeForwardSlashAsterisk`, on in 3.4.1);
 * - runs of `?` / `!` stay one token (so `?!` survives removal, as in pycocoevalcap); so do runs
 *   of `=` and `*`; a sign or a leading point directly before a number belongs to it (`-5`, `.5`).
 *
 * Known approximation: CoreNLP's lexer has many more rules (URLs, emoticons, SGML, phone numbers,
 * fractions); for those inputs our output can differ. Captions rarely contain them.
 */

/** The tokens pycocoevalcap removes after PTB tokenisation (tokenizer/ptbtokenizer.py). */
export const COCO_PUNCTUATION: ReadonlySet<string> = new Set([
  "''", "'", '``', '`', '-LRB-', '-RRB-', '-LCB-', '-RCB-', '.', '?', '!', ',', ':', '-', '--', '...', ';',
]);

const ABBREVIATIONS = new Set([
  'mr', 'mrs', 'ms', 'dr', 'st', 'jr', 'sr', 'vs', 'etc', 'prof', 'inc', 'ltd', 'corp', 'co', 'mt', 'ft', 'approx',
]);

/** Splits assimilations as CoreNLP 3.4.1 does (`cannot -> can not`). Key: word, value: split point. */
const ASSIMILATIONS: Record<string, number> = { cannot: 3, gonna: 3, gotta: 3, wanna: 3, gimme: 3, lemme: 3 };

const CLITICS = ["n't", "'s", "'m", "'d", "'re", "'ve", "'ll"];

// A word: letters/digits, with internal hyphens, underscores, periods, apostrophes, ampersands and
// slashes joining alphanumeric runs; commas and colons only between digits (1,000  9:30).
const WORD = /[\p{L}\p{N}\p{M}]+(?:(?:[-_.'&/]|(?<=\p{N})[,:](?=\p{N}))[\p{L}\p{N}\p{M}]+)*/uy;
// An acronym with its final period: u.s.  e.g.  a.m.
const ACRONYM = /(?:\p{L}\.){2,}/uy;
// A clitic written after a space ("the dog 's bone") or a decade ('90s).
const LEADING_APOSTROPHE = /'(?:s|m|d|re|ve|ll|\d0s)(?![\p{L}\p{N}])/uy;
const ELLIPSIS = /\.\.\.+|\. \. \./y;
const DASHES = /--+/y;
// a sign directly before a number at the start of a token is part of it (PTB's NUMBER = [-+]?NUM)
const SIGNED_NUMBER = /[-+]?\.?\d+(?:[.,:]\d+)*/y;

function isOpeningContext(prev: string | undefined): boolean {
  return prev === undefined || /[\s([{\u201c\u2018"'`]/u.test(prev);
}

/** Splits a lexed word into PTB tokens (contractions, assimilations). */
function splitWord(word: string, out: string[]): void {
  const assimilation = ASSIMILATIONS[word];
  if (assimilation !== undefined) {
    out.push(word.slice(0, assimilation), word.slice(assimilation));
    return;
  }
  for (const clitic of CLITICS) {
    if (word.length > clitic.length && word.endsWith(clitic)) {
      const stem = word.slice(0, word.length - clitic.length);
      if (/[\p{L}]$/u.test(stem)) {
        splitWord(stem, out);
        out.push(clitic);
        return;
      }
    }
  }
  out.push(word.replace(/\//g, '\\/'));
}

/**
 * Tokenises one caption the way pycocoevalcap does and returns the token list (lower case, COCO
 * punctuation removed). Join with a single space to get the string pycocoevalcap scores.
 */
export function ptbTokenize(text: string): string[] {
  return ptbTokenizeRaw(text).filter((t) => !COCO_PUNCTUATION.has(t));
}

/** The tokens before pycocoevalcap's punctuation removal (lower case). */
export function ptbTokenizeRaw(text: string): string[] {
  if (typeof text !== 'string') throw new Error(`ptbTokenize: expected a string, got ${text === null ? 'null' : typeof text}`);
  // pycocoevalcap replaces newlines by spaces; CoreNLP lower-cases with Locale.ENGLISH.
  const s = text
    .replace(/\n/g, ' ')
    .toLowerCase()
    .replace(/[\u2018\u2019\u201b\u2032](?=\p{L})(?<=\p{L}[\u2018\u2019\u201b\u2032])/gu, "'") // apostrophe inside a word
    .replace(/\u2026/g, '...')
    .replace(/[\u2012-\u2015]/g, ' -- ');
  const out: string[] = [];
  let i = 0;
  const at = (re: RegExp): string | null => {
    re.lastIndex = i;
    const m = re.exec(s);
    return m ? m[0] : null;
  };
  while (i < s.length) {
    const ch = s[i];
    if (/\s/u.test(ch)) {
      i++;
      continue;
    }
    let m: string | null;
    if ((m = at(ELLIPSIS))) {
      out.push('...');
      i += m.length;
      continue;
    }
    if ((ch === '-' || ch === '+' || ch === '.') && (i === 0 || /\s/u.test(s[i - 1])) && (m = at(SIGNED_NUMBER))) {
      out.push(m);
      i += m.length;
      continue;
    }
    if ((m = at(DASHES))) {
      out.push('--');
      i += m.length;
      continue;
    }
    if ((m = at(ACRONYM))) {
      out.push(m);
      i += m.length;
      continue;
    }
    if ((m = at(LEADING_APOSTROPHE)) && isOpeningContext(s[i - 1])) {
      out.push(m);
      i += m.length;
      continue;
    }
    if ((m = at(WORD))) {
      let word = m;
      // a word directly followed by a period is an abbreviation when it is a known one
      if (s[i + word.length] === '.' && ABBREVIATIONS.has(word)) word += '.';
      // (a final apostrophe, as in dogs', is not part of WORD: the quote rule below takes it)
      splitWord(word, out);
      i += word.length;
      continue;
    }
    switch (ch) {
      case '"':
      case '\u201c':
      case '\u201d':
        out.push(ch === '\u201c' || (ch === '"' && isOpeningContext(s[i - 1])) ? '``' : "''");
        i++;
        continue;
      case "'":
      case '\u2018':
      case '\u2019':
        if (s[i + 1] === "'" || s[i + 1] === '\u2019') {
          out.push("''");
          i += 2;
        } else {
          out.push(ch === '\u2018' || (ch === "'" && isOpeningContext(s[i - 1])) ? '`' : "'");
          i++;
        }
        continue;
      case '`':
        if (s[i + 1] === '`') {
          out.push('``');
          i += 2;
        } else {
          out.push('`');
          i++;
        }
        continue;
      case '(': out.push('-lrb-'); i++; continue;
      case ')': out.push('-rrb-'); i++; continue;
      case '[': out.push('-lsb-'); i++; continue;
      case ']': out.push('-rsb-'); i++; continue;
      case '{': out.push('-lcb-'); i++; continue;
      case '}': out.push('-rcb-'); i++; continue;
      case '/': out.push('\\/'); i++; continue;
      case '*':
      case '=': {
        // runs are one token (PTB's ASTS and =+); asterisks are escaped as \*
        let j = i;
        while (j < s.length && s[j] === ch) j++;
        out.push(ch === '*' ? '\\*'.repeat(j - i) : s.slice(i, j));
        i = j;
        continue;
      }
      case '?':
      case '!': {
        let j = i;
        while (j < s.length && (s[j] === '?' || s[j] === '!')) j++;
        out.push(s.slice(i, j));
        i = j;
        continue;
      }
      default:
        break;
    }
    // Emoji and other untokenisable characters are deleted (CoreNLP's default `firstDelete`);
    // any other single symbol (. , ; : - % $ & + = < > # @ ...) is a token of its own.
    if (/\p{Extended_Pictographic}|\p{C}/u.test(ch)) {
      i++;
      continue;
    }
    const cp = s.codePointAt(i)!;
    const symbol = String.fromCodePoint(cp);
    out.push(symbol);
    i += symbol.length;
  }
  return out;
}

/** The caption as pycocoevalcap scores it: tokens joined by one space. */
export function ptbTokenizeToString(text: string): string {
  return ptbTokenize(text).join(' ');
}
