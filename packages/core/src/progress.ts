import cliProgress from 'cli-progress';

export interface ProgressOptions {
  /** Total number of steps (items, batches); 0 or undefined when unknown. */
  total?: number;
  /** Shown before the bar / at the start of each log line. */
  label: string;
  /** Where to write; default process.stderr. */
  stream?: NodeJS.WriteStream | NodeJS.WritableStream;
  /**
   * `bar`: an interactive bar (TTY). `log`: one line every `logEverySeconds`. `silent`: nothing.
   * Default: `bar` on a TTY, `silent` when the CI variable is set, else `log`.
   */
  mode?: 'bar' | 'log' | 'silent';
  logEverySeconds?: number;
  /** Unit name for the rate, e.g. "samples". */
  unit?: string;
}

export interface Progress {
  /** Advance by `n` steps; `fields` (loss, lr, ...) are shown beside the bar. */
  tick(n?: number, fields?: Record<string, string | number>): void;
  /** Set the absolute position. */
  update(value: number, fields?: Record<string, string | number>): void;
  stop(): void;
  readonly value: number;
}

/**
 * Progress for long work: steps, rate and ETA. The bar itself is cli-progress; off a TTY we print a
 * line every few seconds instead (or nothing in CI), so logs stay readable.
 */
export function createProgress(options: ProgressOptions): Progress {
  const stream = (options.stream ?? process.stderr) as NodeJS.WriteStream;
  const mode = options.mode ?? (stream.isTTY ? 'bar' : process.env.CI ? 'silent' : 'log');
  const total = options.total ?? 0;
  const unit = options.unit ?? 'it';
  const start = Date.now();
  let value = 0;
  let lastFields: Record<string, string | number> = {};
  const formatFields = (f: Record<string, string | number>) =>
    Object.entries(f)
      .map(([k, v]) => `${k} ${typeof v === 'number' ? formatNumber(v) : v}`)
      .join(' | ');

  if (mode === 'bar') {
    const bar = new cliProgress.SingleBar(
      {
        format: `${options.label} [{bar}] {value}/{total} | {rate} ${unit}/s | ETA {eta_formatted} {extra}`,
        stream,
        hideCursor: true,
        etaBuffer: 50,
      },
      cliProgress.Presets.shades_classic,
    );
    bar.start(total || 1, 0, { rate: '0', extra: '' });
    const payload = () => ({ rate: formatNumber(value / Math.max((Date.now() - start) / 1000, 1e-9)), extra: formatFields(lastFields) });
    return {
      tick(n = 1, fields) {
        value += n;
        if (fields) lastFields = fields;
        bar.update(value, payload());
      },
      update(v, fields) {
        value = v;
        if (fields) lastFields = fields;
        bar.update(value, payload());
      },
      stop() {
        bar.stop();
      },
      get value() {
        return value;
      },
    };
  }

  const every = (options.logEverySeconds ?? 10) * 1000;
  let lastLog = start;
  const log = (final: boolean) => {
    if (mode !== 'log') return;
    const now = Date.now();
    if (!final && now - lastLog < every) return;
    lastLog = now;
    const seconds = (now - start) / 1000;
    const rate = value / Math.max(seconds, 1e-9);
    const eta = total > 0 && rate > 0 ? ` | ETA ${formatDuration((total - value) / rate)}` : '';
    const of = total > 0 ? `/${total}` : '';
    const fields = formatFields(lastFields);
    stream.write(`${options.label} ${value}${of} | ${formatNumber(rate)} ${unit}/s${eta}${fields ? ` | ${fields}` : ''}${final ? ` | done in ${formatDuration(seconds)}` : ''}\n`);
  };
  return {
    tick(n = 1, fields) {
      value += n;
      if (fields) lastFields = fields;
      log(false);
    },
    update(v, fields) {
      value = v;
      if (fields) lastFields = fields;
      log(false);
    },
    stop() {
      log(true);
    },
    get value() {
      return value;
    },
  };
}

function formatNumber(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  if (v !== 0 && Math.abs(v) < 1e-3) return v.toExponential(2);
  if (Math.abs(v) >= 100) return v.toFixed(0);
  return v.toPrecision(3);
}

/** Seconds as `1h02m03s` / `2m05s` / `4.2s`. */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  if (seconds < 60) return `${seconds.toFixed(1)}s`;
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const rest = s % 60;
  return h > 0 ? `${h}h${String(m).padStart(2, '0')}m${String(rest).padStart(2, '0')}s` : `${m}m${String(rest).padStart(2, '0')}s`;
}
