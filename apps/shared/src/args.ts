import { ConfigError, ConfigSchema, type Override } from './config.js';

/** The top-level config fields (`--runsDir runs2`, `--seed 3` are overrides like `--train.steps`). */
const TOP_LEVEL_FIELDS = new Set(Object.keys(ConfigSchema.shape));

/** What an app accepts on its command line besides dotted config overrides (`--train.steps 100`). */
export interface ArgSpec {
  /** Flags that take no value (`--resume`). `--no-x` is only accepted when listed here as `no-x`. */
  booleans: string[];
  /** Flags that take a value and are handled by the app itself (`--shard 0/4`). */
  values: string[];
  /** Short names for config fields (`steps` -> `train.steps`). */
  shortcuts: Record<string, string>;
}

export interface ParsedArgs {
  command: string | undefined;
  configFile?: string;
  preset?: string;
  overrides: Override[];
  flags: Set<string>;
  values: Map<string, string>;
}

/**
 * Parses `<command> [--config FILE] [--preset NAME] [--a.b value | --a.b=value] [app flags]`.
 * Unknown flags are errors naming the flag, so a typo never silently does nothing.
 */
export function parseArgs(argv: string[], spec: ArgSpec): ParsedArgs {
  const out: ParsedArgs = { command: undefined, overrides: [], flags: new Set(), values: new Map() };
  let i = 0;
  if (argv[0] !== undefined && !argv[0].startsWith('-')) out.command = argv[i++];
  while (i < argv.length) {
    const token = argv[i++];
    if (!token.startsWith('--') || token === '--') throw new ConfigError(`unexpected argument ${JSON.stringify(token)}: options are written --name value`);
    let key = token.slice(2);
    let value: string | undefined;
    const eq = key.indexOf('=');
    if (eq >= 0) {
      value = key.slice(eq + 1);
      key = key.slice(0, eq);
    }
    if (spec.booleans.includes(key)) {
      if (value !== undefined) throw new ConfigError(`--${key} takes no value, got "${value}"`);
      out.flags.add(key);
      continue;
    }
    const takeValue = (): string => {
      if (value !== undefined) return value;
      const next = argv[i];
      if (next === undefined || (next.startsWith('--') && next.length > 2)) throw new ConfigError(`--${key} needs a value`);
      i++;
      return next;
    };
    if (key === 'config') out.configFile = takeValue();
    else if (key === 'preset') out.preset = takeValue();
    else if (spec.values.includes(key)) out.values.set(key, takeValue());
    else if (key in spec.shortcuts) out.overrides.push({ path: spec.shortcuts[key], raw: takeValue() });
    else if (key.includes('.') || TOP_LEVEL_FIELDS.has(key)) out.overrides.push({ path: key, raw: takeValue() });
    else {
      const known = [...spec.booleans, ...spec.values, ...Object.keys(spec.shortcuts), 'config', 'preset'].map((k) => `--${k}`).join(', ');
      throw new ConfigError(`unknown option --${key}. Known options: ${known}, or any config field as --<path> (for example --train.steps 100)`);
    }
  }
  return out;
}

/** Parses `--shard i/n` (0-based i < n). */
export function parseShard(text: string): { index: number; count: number } {
  const m = /^(\d+)\/(\d+)$/.exec(text);
  if (!m) throw new ConfigError(`--shard: expected i/n such as 0/4, got "${text}"`);
  const index = Number(m[1]);
  const count = Number(m[2]);
  if (count < 1 || index >= count) throw new ConfigError(`--shard: need 0 <= i < n, got ${index}/${count}`);
  return { index, count };
}
