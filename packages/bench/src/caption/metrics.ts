import { ptbTokenizeToString } from '../tokenizer.js';
import { computeBleu } from './bleu.js';
import { computeCiderD } from './cider.js';
import { computeRougeL } from './rouge.js';
import { runSpice, type SpiceOptions } from './spice.js';

export interface CaptionMetricOptions {
  /** PTB-tokenise predictions and references first (pycocoevalcap does); default true. */
  tokenize?: boolean;
  /** A SPICE jar path: SPICE and SPIDEr are computed only when it is given and Java runs. */
  spiceJar?: string;
  /** Further SPICE settings (java executable, cache folder, heap). */
  spice?: Omit<SpiceOptions, 'jar'>;
}

export interface CaptionItemScores {
  Bleu_1: number;
  Bleu_2: number;
  Bleu_3: number;
  Bleu_4: number;
  ROUGE_L: number;
  CIDEr: number;
  SPICE: number | null;
  SPIDEr: number | null;
}

/** Key names as pycocoevalcap's COCOEvalCap reports them; CIDEr is CIDEr-D. */
export interface CaptionMetrics extends CaptionItemScores {
  /** Present when SPICE is null: why it was not computed. */
  spiceUnavailableReason?: string;
  perItem: Record<string, CaptionItemScores>;
}

export type CaptionPredictions = Map<string, string> | Record<string, string>;

/**
 * BLEU-1..4, ROUGE-L and CIDEr-D exactly as pycocoevalcap computes them, plus SPICE / SPIDEr when a
 * SPICE jar is given. Every id must appear in both inputs with string captions; errors name the ids.
 */
export function computeCaptionMetrics(
  predictions: CaptionPredictions,
  references: Record<string, string[]> | Map<string, string[]>,
  options: CaptionMetricOptions = {},
): CaptionMetrics {
  const predMap = predictions instanceof Map ? predictions : new Map(Object.entries(predictions));
  const refMap = references instanceof Map ? references : new Map(Object.entries(references));
  checkIds(predMap, refMap);
  const ids = [...refMap.keys()];
  if (ids.length === 0) throw new Error('computeCaptionMetrics: no items to score (references are empty)');
  const tokenize = options.tokenize ?? true;
  const prep = (s: string) => (tokenize ? ptbTokenizeToString(s) : s);
  const candidates: string[] = [];
  const refs: string[][] = [];
  for (const id of ids) {
    const p = predMap.get(id);
    if (typeof p !== 'string') throw new Error(`predictions: id ${JSON.stringify(id)}: caption must be a string, got ${describe(p)}`);
    const r = refMap.get(id);
    if (!Array.isArray(r) || r.length === 0) {
      throw new Error(`references: id ${JSON.stringify(id)}: expected a non-empty array of strings, got ${describe(r)}`);
    }
    r.forEach((c, k) => {
      if (typeof c !== 'string') throw new Error(`references: id ${JSON.stringify(id)}: caption ${k} must be a string, got ${describe(c)}`);
    });
    candidates.push(prep(p));
    refs.push(r.map(prep));
  }

  const bleu = computeBleu(candidates, refs, 4);
  const rouge = computeRougeL(candidates, refs);
  const cider = computeCiderD(candidates, refs);

  let spice: number | null = null;
  let spiceItems: number[] | null = null;
  let spiceUnavailableReason: string | undefined;
  if (options.spiceJar) {
    const outcome = runSpice(ids, candidates, refs, { ...options.spice, jar: options.spiceJar });
    if (outcome.available) {
      spice = outcome.corpus;
      spiceItems = outcome.perItem;
    } else {
      spiceUnavailableReason = outcome.reason;
    }
  } else {
    spiceUnavailableReason = 'SPICE not computed: no SPICE jar given (it needs spice-1.0.jar with Stanford CoreNLP and Java)';
  }

  const perItem: Record<string, CaptionItemScores> = {};
  ids.forEach((id, i) => {
    const s = spiceItems ? spiceItems[i] : null;
    perItem[id] = {
      Bleu_1: bleu.perItem[i][0],
      Bleu_2: bleu.perItem[i][1],
      Bleu_3: bleu.perItem[i][2],
      Bleu_4: bleu.perItem[i][3],
      ROUGE_L: rouge.perItem[i],
      CIDEr: cider.perItem[i],
      SPICE: s,
      SPIDEr: s === null ? null : (cider.perItem[i] + s) / 2,
    };
  });
  const result: CaptionMetrics = {
    Bleu_1: bleu.corpus[0],
    Bleu_2: bleu.corpus[1],
    Bleu_3: bleu.corpus[2],
    Bleu_4: bleu.corpus[3],
    ROUGE_L: rouge.corpus,
    CIDEr: cider.corpus,
    SPICE: spice,
    SPIDEr: spice === null ? null : (cider.corpus + spice) / 2,
    perItem,
  };
  if (spiceUnavailableReason !== undefined) result.spiceUnavailableReason = spiceUnavailableReason;
  return result;
}

function checkIds(pred: Map<string, unknown>, refs: Map<string, unknown>): void {
  const onlyPred = [...pred.keys()].filter((id) => !refs.has(id));
  const onlyRefs = [...refs.keys()].filter((id) => !pred.has(id));
  if (onlyPred.length || onlyRefs.length) {
    const show = (ids: string[]) => ids.slice(0, 10).map((id) => JSON.stringify(id)).join(', ') + (ids.length > 10 ? `, ... (${ids.length} in all)` : '');
    const parts: string[] = [];
    if (onlyRefs.length) parts.push(`${onlyRefs.length} id(s) have references but no prediction: ${show(onlyRefs)}`);
    if (onlyPred.length) parts.push(`${onlyPred.length} id(s) have a prediction but no references: ${show(onlyPred)}`);
    throw new Error(`caption metrics: predictions and references must cover the same ids; ${parts.join('; ')}`);
  }
}

export function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'string') return `the string ${JSON.stringify(v.slice(0, 40))}`;
  if (typeof v === 'object') return 'an object';
  return `${typeof v} ${String(v)}`;
}
