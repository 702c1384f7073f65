/**
 * `mats export RUN --out DIR`: the `mats` CLI dispatches its `export` command here (argv without
 * the command name).
 */
import { existsSync, readdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { exportRun } from './export-run.js';
import { loadExported } from './runtime.js';

export const EXPORT_USAGE = `Usage: mats export RUN --out DIR [--overwrite] [--no-check]

Writes an ONNX export of a trained run (LoRA merged): decoder.onnx (GPT-2 with past key/values),
mapper.onnx, for the synthetic world clap-audio.onnx (log-mel frames in) and clap-text.onnx,
santa.safetensors, the tokenizer files and config.json (the manifest). Standard opset 17 only,
readable by onnxruntime-node and onnxruntime-web.

  RUN          the run folder (e.g. runs/world or runs/latest)
  --out DIR    the export folder (must be empty or absent unless --overwrite)
  --overwrite  write into a non-empty folder
  --no-check   skip re-opening the export with onnxruntime-node afterwards
`;

export interface ExportCommandResult {
  outDir: string;
  files: string[];
}

/** Parses argv, exports, re-opens the export with ONNX Runtime (unless --no-check), prints a summary. */
export async function exportCommand(argv: string[], log: (line: string) => void = (l) => console.log(l)): Promise<ExportCommandResult> {
  let run: string | undefined;
  let out: string | undefined;
  let overwrite = false;
  let check = true;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--help' || a === '-h') {
      log(EXPORT_USAGE);
      return { outDir: '', files: [] };
    } else if (a === '--out') {
      out = argv[++i];
      if (!out || out.startsWith('--')) throw new Error(`mats export: --out needs a folder\n\n${EXPORT_USAGE}`);
    } else if (a.startsWith('--out=')) out = a.slice('--out='.length);
    else if (a === '--overwrite') overwrite = true;
    else if (a === '--no-check') check = false;
    else if (a.startsWith('-')) throw new Error(`mats export: unknown option ${a}\n\n${EXPORT_USAGE}`);
    else if (run === undefined) run = a;
    else throw new Error(`mats export: unexpected argument "${a}" (one run folder only)\n\n${EXPORT_USAGE}`);
  }
  if (!run) throw new Error(`mats export: missing the run folder\n\n${EXPORT_USAGE}`);
  if (!out) throw new Error(`mats export: missing --out DIR\n\n${EXPORT_USAGE}`);
  const outDir = resolve(out);
  if (!overwrite && existsSync(outDir) && readdirSync(outDir).length > 0) throw new Error(`mats export: ${outDir} is not empty (pass --overwrite to write into it)`);
  const t0 = performance.now();
  const manifest = await exportRun(resolve(run), outDir);
  const files = [manifest.files.decoder, manifest.files.mapper, manifest.files.clapAudio, manifest.files.clapText, manifest.files.clapConfig, manifest.files.santa, ...manifest.files.tokenizer, manifest.files.runConfig, 'config.json'].filter(
    (f): f is string => typeof f === 'string',
  );
  log(`exported ${manifest.sourceRun} -> ${outDir} in ${((performance.now() - t0) / 1000).toFixed(1)} s (opset ${manifest.opset})`);
  log(`  llm: ${manifest.llm.nLayer} layers, n_embd ${manifest.llm.nEmbd}, vocab ${manifest.llm.vocabSize}; mapper: ${manifest.mapper.clapDim} -> ${manifest.mapper.prefixLength} x ${manifest.mapper.outDim}; clap: ${manifest.clap?.kind ?? 'none'}`);
  log(`  files: ${files.join(', ')}`);
  if (check) {
    const model = await loadExported(outDir, { threads: 1 });
    await model.dispose();
    log('  checked: onnxruntime-node opens every part and the graphs match the manifest');
  }
  return { outDir, files };
}
