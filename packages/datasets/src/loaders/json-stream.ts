/**
 * Streams the elements of a top-level JSON array (e.g. OpenAQA's 2.3 GB openaqa_5.6M.json) without
 * parsing the whole file: a small scanner finds where each element ends (tracking strings, escapes and
 * nesting), and each element is parsed on its own. Errors name the file, the element index and the line.
 */
import { createReadStream, existsSync } from 'node:fs';

export interface JsonArrayElement {
  value: unknown;
  /** 0-based index in the array. */
  index: number;
  /** 1-based line where the element starts. */
  line: number;
}

export async function* streamJsonArray(path: string): AsyncGenerator<JsonArrayElement> {
  if (!existsSync(path)) throw new Error(`${path}: file not found`);
  const stream = createReadStream(path, { encoding: 'utf8', highWaterMark: 1 << 20 });
  let state: 'start' | 'between' | 'element' | 'end' = 'start';
  let buf = '';
  let depth = 0;
  let inString = false;
  let escaped = false;
  let index = 0;
  let line = 1;
  let elementLine = 1;
  let elementStart = 0;
  const emit = (text: string): JsonArrayElement => {
    try {
      return { value: JSON.parse(text), index, line: elementLine };
    } catch (err) {
      throw new Error(`${path}: element ${index} (line ${elementLine}) is not valid JSON (${(err as Error).message})`);
    }
  };
  for await (const chunk of stream as AsyncIterable<string>) {
    let i = buf.length;
    buf += chunk;
    for (; i < buf.length; i++) {
      const ch = buf[i];
      if (ch === '\n') line++;
      if (state === 'start') {
        if (ch === '[') state = 'between';
        else if (ch === '\ufeff' || /\s/.test(ch)) continue;
        else throw new Error(`${path}: line ${line}: expected a JSON array ("["), got "${ch}"`);
      } else if (state === 'between') {
        if (/\s/.test(ch) || ch === ',') continue;
        if (ch === ']') {
          state = 'end';
          continue;
        }
        state = 'element';
        elementStart = i;
        elementLine = line;
        depth = 0;
        inString = false;
        i--; // re-scan this character as part of the element
        if (ch === '\n') line--;
      } else if (state === 'element') {
        if (inString) {
          if (escaped) escaped = false;
          else if (ch === '\\') escaped = true;
          else if (ch === '"') inString = false;
          continue;
        }
        if (ch === '"') inString = true;
        else if (ch === '{' || ch === '[') depth++;
        else if (ch === '}' || ch === ']' || ch === ',') {
          if (depth === 0) {
            // End of a scalar element (or of the array right after one).
            yield emit(buf.slice(elementStart, i));
            index++;
            state = ch === ']' ? 'end' : 'between';
            continue;
          }
          if (ch !== ',') depth--;
          if (depth === 0 && ch !== ',') {
            yield emit(buf.slice(elementStart, i + 1));
            index++;
            state = 'between';
          }
        }
      } else if (!/\s/.test(ch)) {
        throw new Error(`${path}: line ${line}: unexpected "${ch}" after the end of the array`);
      }
    }
    // Keep only the unfinished element.
    if (state === 'element') {
      buf = buf.slice(elementStart);
      elementStart = 0;
    } else buf = '';
  }
  if (state === 'start') throw new Error(`${path}: empty file (expected a JSON array)`);
  if ((state as string) !== 'end') throw new Error(`${path}: truncated JSON: the array is not closed (element ${index} starting at line ${elementLine} is incomplete)`);
}
