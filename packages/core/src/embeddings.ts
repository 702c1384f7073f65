/** A batch of embeddings, row-major: row i is data[i * dim, (i + 1) * dim). */
export interface Embeddings {
  rows: number;
  dim: number;
  data: Float32Array;
}

/** Makes an Embeddings, zero-filled unless `data` is given (then it is validated, not copied). */
export function createEmbeddings(rows: number, dim: number, data?: Float32Array): Embeddings {
  if (!Number.isInteger(rows) || rows < 0) throw new Error(`Embeddings: rows must be a non-negative integer, got ${rows}`);
  if (!Number.isInteger(dim) || dim <= 0) throw new Error(`Embeddings: dim must be a positive integer, got ${dim}`);
  const buffer = data ?? new Float32Array(rows * dim);
  if (buffer.length !== rows * dim) {
    throw new Error(`Embeddings: data has ${buffer.length} values, expected rows * dim = ${rows} * ${dim} = ${rows * dim}`);
  }
  return { rows, dim, data: buffer };
}

/** Builds Embeddings from nested arrays; every row must have the same length. */
export function embeddingsFromRows(rows: ArrayLike<number>[], name = 'embeddings'): Embeddings {
  if (rows.length === 0) throw new Error(`${name}: no rows given`);
  const dim = rows[0].length;
  const out = createEmbeddings(rows.length, dim);
  rows.forEach((row, i) => {
    if (row.length !== dim) throw new Error(`${name}: row ${i} has ${row.length} values, expected ${dim}`);
    out.data.set(row, i * dim);
  });
  return validateEmbeddings(out, { name });
}

/** A view (no copy) of row i. */
export function embeddingRow(e: Embeddings, i: number): Float32Array {
  if (!Number.isInteger(i) || i < 0 || i >= e.rows) throw new Error(`Embeddings: row ${i} out of range [0, ${e.rows})`);
  return e.data.subarray(i * e.dim, (i + 1) * e.dim);
}

/** Copies the listed rows into a new Embeddings. */
export function selectRows(e: Embeddings, indices: ArrayLike<number>): Embeddings {
  const out = createEmbeddings(indices.length, e.dim);
  for (let k = 0; k < indices.length; k++) out.data.set(embeddingRow(e, indices[k]), k * e.dim);
  return out;
}

/** Stacks batches with the same dim. */
export function concatEmbeddings(parts: Embeddings[]): Embeddings {
  if (parts.length === 0) throw new Error('concatEmbeddings: no parts given');
  const dim = parts[0].dim;
  let rows = 0;
  for (const [i, p] of parts.entries()) {
    if (p.dim !== dim) throw new Error(`concatEmbeddings: part ${i} has dim ${p.dim}, expected ${dim}`);
    rows += p.rows;
  }
  const out = createEmbeddings(rows, dim);
  let offset = 0;
  for (const p of parts) {
    out.data.set(p.data.subarray(0, p.rows * dim), offset);
    offset += p.rows * dim;
  }
  return out;
}

/** L2 norm of every row. */
export function rowNorms(e: Embeddings): Float32Array {
  const norms = new Float32Array(e.rows);
  for (let i = 0; i < e.rows; i++) {
    let s = 0;
    const base = i * e.dim;
    for (let j = 0; j < e.dim; j++) s += e.data[base + j] * e.data[base + j];
    norms[i] = Math.sqrt(s);
  }
  return norms;
}

/**
 * Returns a copy with every row scaled to unit L2 norm. A zero row cannot be normalised and is an
 * error rather than a silent NaN (`eps` guards only against round-off, as torch's F.normalize does).
 */
export function l2Normalize(e: Embeddings, eps = 1e-12): Embeddings {
  const out = createEmbeddings(e.rows, e.dim, new Float32Array(e.data.subarray(0, e.rows * e.dim)));
  l2NormalizeInPlace(out, eps);
  return out;
}

/** Normalises every row in place (see l2Normalize). */
export function l2NormalizeInPlace(e: Embeddings, eps = 1e-12): Embeddings {
  const { data, dim } = e;
  for (let i = 0; i < e.rows; i++) {
    const base = i * dim;
    let s = 0;
    for (let j = 0; j < dim; j++) s += data[base + j] * data[base + j];
    const norm = Math.sqrt(s);
    if (norm === 0) throw new Error(`l2Normalize: row ${i} is all zeros and has no direction`);
    const scale = 1 / Math.max(norm, eps);
    for (let j = 0; j < dim; j++) data[base + j] *= scale;
  }
  return e;
}

export interface ValidateOptions {
  /** Name used in error messages (a file, a field). */
  name?: string;
  /** Expected dimension, if known. */
  dim?: number;
  /** Expected number of rows, if known. */
  rows?: number;
  /** Reject an empty batch (default true). */
  nonEmpty?: boolean;
}

/** Checks shape and values; throws naming the row and column of the first bad value. */
export function validateEmbeddings(e: Embeddings, options: ValidateOptions = {}): Embeddings {
  const name = options.name ?? 'embeddings';
  if (!e || typeof e !== 'object') throw new Error(`${name}: expected an Embeddings object, got ${e}`);
  if (!(e.data instanceof Float32Array)) throw new Error(`${name}: data must be a Float32Array, got ${Object.prototype.toString.call(e.data)}`);
  if (!Number.isInteger(e.rows) || e.rows < 0) throw new Error(`${name}: rows must be a non-negative integer, got ${e.rows}`);
  if (!Number.isInteger(e.dim) || e.dim <= 0) throw new Error(`${name}: dim must be a positive integer, got ${e.dim}`);
  if (e.data.length !== e.rows * e.dim) {
    throw new Error(`${name}: data has ${e.data.length} values, expected rows * dim = ${e.rows} * ${e.dim} = ${e.rows * e.dim}`);
  }
  if (options.dim !== undefined && e.dim !== options.dim) throw new Error(`${name}: expected dim ${options.dim}, got ${e.dim}`);
  if (options.rows !== undefined && e.rows !== options.rows) throw new Error(`${name}: expected ${options.rows} rows, got ${e.rows}`);
  if ((options.nonEmpty ?? true) && e.rows === 0) throw new Error(`${name}: is empty (0 rows)`);
  for (let k = 0; k < e.data.length; k++) {
    if (!Number.isFinite(e.data[k])) {
      throw new Error(`${name}: non-finite value ${e.data[k]} at row ${Math.floor(k / e.dim)}, column ${k % e.dim}`);
    }
  }
  return e;
}

/** Dot product of two equal-length vectors. */
export function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}
