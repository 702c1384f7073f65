import { closeSync, fstatSync, mkdirSync, openSync, readFileSync, readSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { constants } from 'node:buffer';
import { dirname, basename, join } from 'node:path';

/**
 * Writes a file through a temporary name in the same folder and renames it into place, so a killed
 * process never leaves a half-written file under the real name. A failed write (disk full) removes
 * the temporary file and the error names the file being written.
 */
export function writeFileAtomic(path: string, data: string | Uint8Array): void {
  const dir = dirname(path);
  const tmp = join(dir, `.${basename(path)}.${process.pid}.${Date.now()}.tmp`);
  try {
    mkdirSync(dir, { recursive: true });
    writeFileSync(tmp, data);
    renameSync(tmp, path);
  } catch (err) {
    try {
      rmSync(tmp, { force: true });
    } catch {
      // the folder itself is unusable; the error below says why
    }
    const e = err as NodeJS.ErrnoException;
    throw new Error(`${path}: cannot write (${e.code ?? e.message})`, { cause: err });
  }
}

/** Text without a leading UTF-8 byte-order mark (editors on Windows write one before JSON). */
export function stripBom(text: string): string {
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

/** Parses JSON text that may start with a UTF-8 byte-order mark. */
export function parseJson(text: string): unknown {
  return JSON.parse(stripBom(text));
}

/** Reads a UTF-8 text file, dropping a leading byte-order mark. */
export function readTextFile(path: string): string {
  return stripBom(readFileBytes(path).toString('utf8'));
}

/**
 * Reads a whole file, also one over 2 GiB (where `readFileSync` stops with ERR_FS_FILE_TOO_LARGE),
 * up to the largest Buffer this Node.js allows; beyond that the error names the file and both sizes.
 */
export function readFileBytes(path: string): Buffer {
  return readFileInChunks(path, 2 ** 31 - 1, 1 << 30);
}

/** readFileBytes with the one-read limit and the chunk size as parameters (internal, for tests). */
export function readFileInChunks(path: string, oneReadLimit: number, chunk: number): Buffer {
  const fd = openSync(path, 'r');
  try {
    const size = fstatSync(fd).size;
    if (size < oneReadLimit) return readFileSync(fd);
    if (size > constants.MAX_LENGTH) {
      throw new Error(`${path}: ${size} bytes is more than the ${constants.MAX_LENGTH} bytes one Node.js Buffer can hold; split the file`);
    }
    const out = Buffer.allocUnsafe(size);
    let offset = 0;
    while (offset < size) {
      const n = readSync(fd, out, offset, Math.min(chunk, size - offset), offset);
      if (n === 0) throw new Error(`${path}: file shrank while being read (${offset} of ${size} bytes)`);
      offset += n;
    }
    return out;
  } finally {
    closeSync(fd);
  }
}
