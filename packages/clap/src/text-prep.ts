import { encode as r50kEncode } from 'gpt-tokenizer/encoding/r50k_base';

/** GPT-2's end-of-text token and its id. */
export const END_OF_TEXT = '<|endoftext|>';
export const END_OF_TEXT_ID = 50256;
/** msclap sets GPT-2's pad token to '!', whose id is 0. */
export const MSCLAP_PAD_ID = 0;
export const MSCLAP_TEXT_LENGTH = 77;

/**
 * GPT-2 BPE ids of `text`, with `<|endoftext|>` treated as the special token wherever it occurs, as
 * Hugging Face's GPT-2 tokenizer does: the text is split on the special token first and each piece
 * is encoded on its own (so `'a dog barks <|endoftext|>'` ends in 220, 50256). gpt-tokenizer would
 * otherwise either refuse the special token or spell it out as `<`, `|`, `end`, ...
 */
export function gpt2Encode(text: string): number[] {
  const ids: number[] = [];
  const pieces = text.split(END_OF_TEXT);
  pieces.forEach((piece, i) => {
    if (piece.length > 0) for (const id of r50kEncode(piece, { disallowedSpecial: new Set() })) ids.push(id);
    if (i < pieces.length - 1) ids.push(END_OF_TEXT_ID);
  });
  return ids;
}

export interface ClapTextBatch {
  /** Row-major [batch, length], int64 as the ONNX contract wants. */
  inputIds: BigInt64Array;
  attentionMask: BigInt64Array;
  batch: number;
  length: number;
  /** Where msclap's text encoder pools each row: (number of ids != pad id) - 1. */
  pooledIndex: number[];
}

export interface TextPrepOptions {
  /** Sequence length (msclap: 77). */
  maxLength?: number;
  /** Pad id (msclap: 0, GPT-2's '!'). */
  padId?: number;
  /** Told about truncated texts and texts whose pooling msclap gets wrong; default: process.emitWarning. */
  onWarning?: (message: string) => void;
}

const defaultWarn = (message: string) => process.emitWarning(message, 'ClapTextWarning');

/**
 * msclap's CLAPWrapper.preprocess_text for its GPT-2 text encoder: append `' <|endoftext|>'`,
 * GPT-2 BPE, pad with id 0 to 77, attention mask 1 on the real tokens. A text longer than 77 tokens
 * is truncated to its first 76 tokens plus the end-of-text token (msclap itself would fail to
 * batch it) and the caller is warned.
 */
export function prepareClapText(texts: string[], options: TextPrepOptions = {}): ClapTextBatch {
  const length = options.maxLength ?? MSCLAP_TEXT_LENGTH;
  const padId = options.padId ?? MSCLAP_PAD_ID;
  const warn = options.onWarning ?? defaultWarn;
  if (!Number.isInteger(length) || length < 2) throw new Error(`prepareClapText: maxLength must be an integer >= 2, got ${length}`);
  const batch = texts.length;
  const inputIds = new BigInt64Array(batch * length).fill(BigInt(padId));
  const attentionMask = new BigInt64Array(batch * length);
  const pooledIndex: number[] = [];
  texts.forEach((text, row) => {
    if (typeof text !== 'string') throw new Error(`prepareClapText: text ${row} is ${typeof text}, expected a string`);
    let ids = gpt2Encode(`${text} ${END_OF_TEXT}`);
    if (ids.length > length) {
      warn(`CLAP text ${row} has ${ids.length} tokens, more than ${length}: truncated to its first ${length - 1} tokens plus <|endoftext|> ("${text.slice(0, 60)}${text.length > 60 ? '...' : ''}")`);
      ids = [...ids.slice(0, length - 1), END_OF_TEXT_ID];
    }
    let nonPad = 0;
    for (let i = 0; i < ids.length; i++) {
      inputIds[row * length + i] = BigInt(ids[i]);
      attentionMask[row * length + i] = 1n;
      if (ids[i] !== padId) nonPad++;
    }
    if (nonPad !== ids.length) {
      warn(
        `CLAP text ${row} contains the pad token id ${padId} ('!' in GPT-2): msclap's encoder counts non-pad ids to find the pooled ` +
          `position, so it pools at token ${nonPad - 1} instead of the end-of-text token at ${ids.length - 1} (as the original does)`,
      );
    }
    pooledIndex.push(nonPad - 1);
  });
  return { inputIds, attentionMask, batch, length, pooledIndex };
}
