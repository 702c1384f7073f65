/**
 * The event classes of the synthetic sound world and their exact synthesis.
 *
 * Every class has its own spectral and temporal signature (frequency band, harmonic structure, noise vs
 * tone, envelope, rhythm), so a small model looking at a log-mel spectrogram at 16 kHz can tell them
 * apart. `pitched` classes come in a low and a high register; `repeated` classes sound a number of
 * times (the count attribute); `continuous` classes last a short or a long time (the duration attribute).
 */
import type { Rng } from '@mats/core';

export type WorldAudioType = 'sound' | 'music';
export type Pattern = 'repeated' | 'continuous';

/** What the renderer needs to synthesise one event. */
export interface RenderEvent {
  /** Fundamental frequency in Hz for pitched classes (chosen from the register), else 0. */
  f0: number;
  /** Peak amplitude. */
  amp: number;
  /** Number of hits for repeated classes (1 for continuous). */
  count: number;
}

export type Synth = (out: Float32Array, start: number, length: number, ev: RenderEvent, rng: Rng, sr: number) => void;

export interface EventClass {
  /** The label (also the classification answer). */
  name: string;
  audioType: WorldAudioType;
  pattern: Pattern;
  pitched: boolean;
  /** Register centres in Hz: [low, high] (pitched classes only). */
  register?: [number, number];
  /** Noun used in questions: "how many times does the {noun} sound?". */
  noun: string;
  /** True for mass nouns ("wind"): questions say "any wind" instead of "a wind". */
  mass?: boolean;
  /** Subject nouns for captions (without article). */
  subjects: string[];
  /** Verbs (third person) for captions. */
  verbs: string[];
  synth: Synth;
}

const TAU = 2 * Math.PI;

// ---------- small synthesis helpers ----------

/** Linear fade in/out of `ramp` samples at both ends of a segment of length n. */
function edge(i: number, n: number, ramp: number): number {
  if (i < ramp) return i / ramp;
  if (i > n - ramp) return Math.max(0, (n - i) / ramp);
  return 1;
}

/**
 * Adds a sum of harmonics of f0 (amplitude amps[k] for harmonic k+1, only those below 0.45 sr), with
 * optional vibrato. Harmonics come from the recurrence sin((k+1)p) = 2 cos(p) sin(kp) - sin((k-1)p),
 * so each sample costs one sin and one cos whatever the number of harmonics.
 */
function addHarmonics(out: Float32Array, at: number, n: number, f0: number, amps: number[], gain: (i: number) => number, sr: number, vibrato = 0, vibratoRate = 5): void {
  const nyq = 0.45 * sr;
  let used = 0;
  while (used < amps.length && (used + 1) * f0 * (1 + vibrato) <= nyq) used++;
  if (used === 0) return;
  let phase = 0;
  const end = Math.min(n, out.length - at);
  for (let i = 0; i < end; i++) {
    const f = vibrato === 0 ? f0 : f0 * (1 + vibrato * Math.sin((TAU * vibratoRate * i) / sr));
    phase += (TAU * f) / sr;
    if (phase > TAU) phase -= TAU;
    const s1 = Math.sin(phase);
    if (used === 1) {
      out[at + i] += amps[0] * s1 * gain(i);
      continue;
    }
    const c2 = 2 * Math.cos(phase);
    let prev = 0;
    let cur = s1;
    let s = amps[0] * s1;
    for (let k = 1; k < used; k++) {
      const next = c2 * cur - prev;
      prev = cur;
      cur = next;
      s += amps[k] * cur;
    }
    out[at + i] += s * gain(i);
  }
}

/** White noise through a one-pole low-pass (alpha in (0,1]; 1 = no filter) and optional first difference (high-pass). */
function addNoise(out: Float32Array, at: number, n: number, rng: Rng, gain: (i: number) => number, lowpass = 1, highpass = false): void {
  let y = 0;
  let prev = 0;
  for (let i = 0; i < n && at + i < out.length; i++) {
    const w = rng.uniform() * 2 - 1;
    y += lowpass * (w - y);
    let v = y;
    if (highpass) {
      v = y - prev;
      prev = y;
    }
    out[at + i] += v * gain(i);
  }
}

/** Splits a segment into `count` equal slots and calls hit(slotStart, slotLength, index). */
function hits(start: number, length: number, count: number, hit: (at: number, slot: number, k: number) => void): void {
  const slot = Math.floor(length / count);
  for (let k = 0; k < count; k++) hit(start + k * slot, slot, k);
}

function sec(s: number, sr: number): number {
  return Math.max(1, Math.round(s * sr));
}

/** Normalisation of a sum of harmonics so the peak stays near `amp`. */
function norm(amps: number[]): number {
  return 1 / amps.reduce((a, b) => a + Math.abs(b), 0);
}

// ---------- the classes ----------

const SAW = [1, 1 / 2, 1 / 3, 1 / 4, 1 / 5, 1 / 6, 1 / 7, 1 / 8, 1 / 9, 1 / 10, 1 / 11, 1 / 12];
const SQUARE = [1, 0, 1 / 3, 0, 1 / 5, 0, 1 / 7, 0, 1 / 9, 0, 1 / 11, 0, 1 / 13];

export const WORLD_CLASSES: readonly EventClass[] = [
  // ----- sound -----
  {
    name: 'beep', audioType: 'sound', pattern: 'repeated', pitched: true, register: [700, 1900], noun: 'beep',
    subjects: ['beep', 'electronic beep', 'beeping tone'], verbs: ['sounds', 'beeps', 'goes off'],
    synth: (out, start, length, ev, _rng, sr) =>
      hits(start, length, ev.count, (at, slot) => {
        const n = Math.min(slot - sec(0.03, sr), sec(0.15, sr));
        addHarmonics(out, at, n, ev.f0, [1], (i) => ev.amp * edge(i, n, sec(0.004, sr)), sr);
      }),
  },
  {
    name: 'siren', audioType: 'sound', pattern: 'continuous', pitched: true, register: [550, 1100], noun: 'siren',
    subjects: ['siren', 'emergency siren', 'police siren'], verbs: ['wails', 'sounds', 'howls'],
    synth: (out, start, length, ev, _rng, sr) => {
      const amps = [1, 0, 0.3];
      const g = norm(amps) * ev.amp;
      // Frequency swept up and down by a slow sine (the "wail").
      let phase = 0;
      for (let i = 0; i < length && start + i < out.length; i++) {
        const f = ev.f0 * (1 + 0.3 * Math.sin((TAU * 1.2 * i) / sr));
        phase += (TAU * f) / sr;
        const s = Math.sin(phase) + (3 * f < 0.45 * sr ? 0.3 * Math.sin(3 * phase) : 0);
        out[start + i] += g * s * edge(i, length, sec(0.02, sr));
      }
    },
  },
  {
    name: 'bird chirp', audioType: 'sound', pattern: 'repeated', pitched: true, register: [2200, 3600], noun: 'bird',
    subjects: ['bird', 'small bird', 'songbird'], verbs: ['chirps', 'tweets', 'sings'],
    synth: (out, start, length, ev, _rng, sr) =>
      hits(start, length, ev.count, (at, slot) => {
        // Two quick upward sweeps per chirp.
        for (let r = 0; r < 2; r++) {
          const n = Math.min(Math.floor(slot / 3), sec(0.06, sr));
          const base = at + r * sec(0.08, sr);
          let phase = 0;
          for (let i = 0; i < n && base + i < out.length; i++) {
            const f = Math.min(0.45 * sr, ev.f0 * (1 + (0.8 * i) / n));
            phase += (TAU * f) / sr;
            out[base + i] += ev.amp * Math.sin(phase) * Math.sin((Math.PI * i) / n);
          }
        }
      }),
  },
  {
    name: 'hiss', audioType: 'sound', pattern: 'continuous', pitched: false, noun: 'hiss',
    subjects: ['hiss', 'hissing noise', 'steam hiss'], verbs: ['hisses', 'sounds', 'whooshes'],
    synth: (out, start, length, ev, rng, sr) => addNoise(out, start, length, rng, (i) => 1.6 * ev.amp * edge(i, length, sec(0.03, sr)), 0.35, true),
  },
  {
    name: 'clock ticking', audioType: 'sound', pattern: 'continuous', pitched: false, noun: 'clock', mass: false,
    subjects: ['clock', 'wall clock', 'old clock'], verbs: ['ticks', 'is ticking', 'tick tocks'],
    synth: (out, start, length, ev, rng, sr) => {
      const period = sec(0.2, sr);
      for (let at = start, k = 0; at < start + length - sec(0.02, sr); at += period, k++) {
        const n = sec(0.012, sr);
        const f = k % 2 === 0 ? 3000 : 2400; // tick and tock
        addHarmonics(out, at, n, Math.min(f, 0.4 * sr), [1], (i) => 0.7 * ev.amp * Math.exp(-i / sec(0.002, sr)), sr);
        addNoise(out, at, n, rng, (i) => 0.25 * ev.amp * Math.exp(-i / sec(0.0015, sr)), 1, true);
      }
    },
  },
  {
    name: 'knocking', audioType: 'sound', pattern: 'repeated', pitched: false, noun: 'knock',
    subjects: ['knock on a door', 'knock on wood', 'door knock'], verbs: ['sounds', 'thuds', 'is heard'],
    synth: (out, start, length, ev, rng, sr) =>
      hits(start, length, ev.count, (at, slot) => {
        const n = Math.min(slot, sec(0.12, sr));
        addHarmonics(out, at, n, 170, [1, 0.4], (i) => 0.8 * ev.amp * Math.exp(-i / sec(0.025, sr)), sr);
        addNoise(out, at, n, rng, (i) => 0.6 * ev.amp * Math.exp(-i / sec(0.008, sr)), 0.15);
      }),
  },
  {
    name: 'hum', audioType: 'sound', pattern: 'continuous', pitched: true, register: [100, 200], noun: 'hum',
    subjects: ['electric hum', 'hum', 'mains hum'], verbs: ['drones', 'hums', 'buzzes'],
    synth: (out, start, length, ev, _rng, sr) => {
      const amps = [1, 0.7, 0.5, 0.35, 0.25, 0.18, 0.12, 0.08];
      addHarmonics(out, start, length, ev.f0, amps, (i) => norm(amps) * ev.amp * edge(i, length, sec(0.05, sr)), sr);
    },
  },
  {
    name: 'buzzer', audioType: 'sound', pattern: 'continuous', pitched: true, register: [180, 420], noun: 'buzzer',
    subjects: ['buzzer', 'loud buzzer', 'electric buzzer'], verbs: ['buzzes', 'sounds', 'rasps'],
    synth: (out, start, length, ev, _rng, sr) => {
      // Square wave gated at 25 Hz: a rasping buzz.
      addHarmonics(out, start, length, ev.f0, SQUARE, (i) => norm(SQUARE) * 1.6 * ev.amp * edge(i, length, sec(0.01, sr)) * (Math.sin((TAU * 25 * i) / sr) > -0.3 ? 1 : 0.2), sr);
    },
  },
  {
    name: 'bell', audioType: 'sound', pattern: 'repeated', pitched: true, register: [420, 950], noun: 'bell',
    subjects: ['bell', 'church bell', 'ringing bell'], verbs: ['rings', 'chimes', 'tolls'],
    synth: (out, start, length, ev, _rng, sr) =>
      hits(start, length, ev.count, (at, slot) => {
        // Inharmonic partials of a bell, slowly decaying.
        const partials = [1, 2.0, 2.76, 4.07, 5.4];
        const gains = [1, 0.6, 0.5, 0.3, 0.2];
        const g = norm(gains) * ev.amp;
        for (let p = 0; p < partials.length; p++) {
          const f = ev.f0 * partials[p];
          if (f > 0.45 * sr) continue;
          const tau = sec(0.45 / Math.sqrt(partials[p]), sr);
          addHarmonics(out, at, slot, f, [gains[p]], (i) => g * Math.exp(-i / tau) * edge(i, slot, sec(0.002, sr)), sr);
        }
      }),
  },
  {
    name: 'wind', audioType: 'sound', pattern: 'continuous', pitched: false, noun: 'wind', mass: true,
    subjects: ['wind', 'strong wind', 'gusting wind'], verbs: ['blows', 'howls', 'rushes'],
    synth: (out, start, length, ev, rng, sr) => {
      const rate = 0.7 + 0.6 * rng.uniform();
      addNoise(out, start, length, rng, (i) => 2.2 * ev.amp * edge(i, length, sec(0.15, sr)) * (0.55 + 0.45 * Math.sin((TAU * rate * i) / sr)), 0.04);
    },
  },
  {
    name: 'alarm', audioType: 'sound', pattern: 'continuous', pitched: true, register: [800, 1500], noun: 'alarm',
    subjects: ['alarm', 'fire alarm', 'alarm clock'], verbs: ['rings', 'blares', 'goes off'],
    synth: (out, start, length, ev, _rng, sr) => {
      // Two tones alternating every 80 ms.
      const step = sec(0.08, sr);
      for (let at = start, k = 0; at < start + length; at += step, k++) {
        const n = Math.min(step, start + length - at);
        const f = k % 2 === 0 ? ev.f0 : ev.f0 * 1.33;
        addHarmonics(out, at, n, f, [1, 0, 0.25], (i) => 0.8 * ev.amp * edge(i, n, sec(0.003, sr)), sr);
      }
    },
  },
  {
    name: 'engine', audioType: 'sound', pattern: 'continuous', pitched: false, noun: 'engine',
    subjects: ['engine', 'car engine', 'motor'], verbs: ['rumbles', 'idles', 'runs'],
    synth: (out, start, length, ev, rng, sr) => {
      // Dense low harmonics of a ~35 Hz firing rate plus low rumble noise.
      const f0 = 30 + 10 * rng.uniform();
      const amps = Array.from({ length: 16 }, (_, k) => 1 / (1 + 0.3 * k));
      addHarmonics(out, start, length, f0, amps, (i) => norm(amps) * 1.4 * ev.amp * edge(i, length, sec(0.08, sr)), sr);
      addNoise(out, start, length, rng, (i) => 0.8 * ev.amp * edge(i, length, sec(0.08, sr)), 0.03);
    },
  },
  {
    name: 'whistle', audioType: 'sound', pattern: 'continuous', pitched: true, register: [1500, 2700], noun: 'whistle',
    subjects: ['whistle', 'person whistling', 'referee whistle'], verbs: ['whistles', 'shrills', 'sounds'],
    synth: (out, start, length, ev, rng, sr) => {
      addHarmonics(out, start, length, ev.f0, [1], (i) => 0.8 * ev.amp * edge(i, length, sec(0.03, sr)), sr, 0.03, 6);
      addNoise(out, start, length, rng, (i) => 0.08 * ev.amp * edge(i, length, sec(0.03, sr)), 1, true);
    },
  },
  {
    name: 'water drip', audioType: 'sound', pattern: 'repeated', pitched: true, register: [500, 1100], noun: 'drip',
    subjects: ['water drop', 'dripping tap', 'drop of water'], verbs: ['drips', 'plops', 'falls'],
    synth: (out, start, length, ev, _rng, sr) =>
      hits(start, length, ev.count, (at, slot) => {
        const n = Math.min(slot, sec(0.07, sr));
        let phase = 0;
        for (let i = 0; i < n && at + i < out.length; i++) {
          const f = ev.f0 * (1 + (1.5 * i) / n); // fast upward "bloop"
          phase += (TAU * f) / sr;
          out[at + i] += ev.amp * Math.sin(phase) * Math.exp(-i / sec(0.02, sr));
        }
      }),
  },
  {
    name: 'car horn', audioType: 'sound', pattern: 'continuous', pitched: true, register: [300, 520], noun: 'horn',
    subjects: ['car horn', 'horn', 'truck horn'], verbs: ['honks', 'blasts', 'toots'],
    synth: (out, start, length, ev, _rng, sr) => {
      // Two detuned sawtooth-like tones a major third apart.
      const amps = SAW.slice(0, 8);
      for (const ratio of [1, 1.26]) addHarmonics(out, start, length, ev.f0 * ratio, amps, (i) => 0.5 * norm(amps) * 1.5 * ev.amp * edge(i, length, sec(0.01, sr)), sr);
    },
  },
  {
    name: 'telephone ring', audioType: 'sound', pattern: 'continuous', pitched: false, noun: 'telephone',
    subjects: ['telephone', 'phone', 'old telephone'], verbs: ['rings', 'is ringing', 'trills'],
    synth: (out, start, length, ev, _rng, sr) => {
      // 440 + 480 Hz with a 20 Hz trill, in bursts of 0.4 s on / 0.2 s off.
      const on = sec(0.4, sr), period = sec(0.6, sr);
      for (let i = 0; i < length && start + i < out.length; i++) {
        const inBurst = i % period;
        if (inBurst >= on) continue;
        const trill = Math.sin((TAU * 20 * i) / sr) > 0 ? 1 : 0.3;
        const s = Math.sin((TAU * 440 * i) / sr) + Math.sin((TAU * 480 * i) / sr);
        out[start + i] += 0.45 * ev.amp * s * trill * edge(inBurst, on, sec(0.005, sr));
      }
    },
  },
  // ----- music -----
  {
    name: 'piano', audioType: 'music', pattern: 'repeated', pitched: true, register: [150, 520], noun: 'piano',
    subjects: ['piano', 'grand piano', 'piano note'], verbs: ['plays', 'sounds', 'rings'],
    synth: (out, start, length, ev, _rng, sr) =>
      hits(start, length, ev.count, (at, slot, k) => {
        const f0 = ev.f0 * [1, 1.26, 1.5, 1.12][k % 4]; // a short figure on the scale
        for (let h = 1; h <= 10; h++) {
          const f = f0 * h * (1 + 0.0004 * h * h); // slight string inharmonicity
          if (f > 0.45 * sr) break;
          const tau = sec(0.5 / Math.sqrt(h), sr);
          addHarmonics(out, at, slot, f, [1 / Math.pow(h, 1.1)], (i) => 0.35 * ev.amp * Math.exp(-i / tau) * edge(i, slot, sec(0.002, sr)), sr);
        }
      }),
  },
  {
    name: 'guitar', audioType: 'music', pattern: 'repeated', pitched: true, register: [110, 330], noun: 'guitar',
    subjects: ['acoustic guitar', 'guitar', 'plucked guitar string'], verbs: ['plays', 'is strummed', 'twangs'],
    synth: (out, start, length, ev, rng, sr) =>
      hits(start, length, ev.count, (at, slot) => {
        // Karplus-Strong plucked string.
        const period = Math.max(2, Math.round(sr / ev.f0));
        const line = new Float32Array(period);
        for (let i = 0; i < period; i++) line[i] = rng.uniform() * 2 - 1;
        let idx = 0;
        for (let i = 0; i < slot && at + i < out.length; i++) {
          const next = (idx + 1) % period;
          const v = line[idx];
          line[idx] = 0.996 * 0.5 * (line[idx] + line[next]);
          idx = next;
          out[at + i] += 0.8 * ev.amp * v * edge(i, slot, sec(0.005, sr));
        }
      }),
  },
  {
    name: 'flute', audioType: 'music', pattern: 'continuous', pitched: true, register: [500, 1000], noun: 'flute',
    subjects: ['flute', 'wooden flute', 'flute melody'], verbs: ['plays', 'sings', 'plays a tune'],
    synth: (out, start, length, ev, rng, sr) => {
      // A slow melody of breathy tones.
      const notes = Math.max(1, Math.round(length / sec(0.35, sr)));
      const steps = [1, 1.12, 1.26, 1.5, 1.33];
      hits(start, length, notes, (at, slot, k) => {
        addHarmonics(out, at, slot, ev.f0 * steps[k % steps.length], [1, 0.25, 0.08], (i) => 0.7 * ev.amp * edge(i, slot, sec(0.04, sr)), sr, 0.01, 5);
        addNoise(out, at, slot, rng, (i) => 0.06 * ev.amp * edge(i, slot, sec(0.04, sr)), 0.5);
      });
    },
  },
  {
    name: 'violin', audioType: 'music', pattern: 'continuous', pitched: true, register: [220, 660], noun: 'violin',
    subjects: ['violin', 'bowed violin', 'fiddle'], verbs: ['plays', 'sings', 'is bowed'],
    synth: (out, start, length, ev, _rng, sr) =>
      addHarmonics(out, start, length, ev.f0, SAW, (i) => norm(SAW) * 1.8 * ev.amp * edge(i, length, sec(0.08, sr)), sr, 0.012, 6),
  },
  {
    name: 'organ', audioType: 'music', pattern: 'continuous', pitched: true, register: [130, 260], noun: 'organ',
    subjects: ['organ', 'church organ', 'organ chord'], verbs: ['plays a chord', 'holds a chord', 'drones'],
    synth: (out, start, length, ev, _rng, sr) => {
      // A sustained major triad, each voice with odd harmonics and an octave.
      const amps = [1, 0.5, 0.4, 0.2, 0.2];
      for (const ratio of [1, 1.26, 1.5]) addHarmonics(out, start, length, ev.f0 * ratio, amps, (i) => (norm(amps) / 3) * 1.8 * ev.amp * edge(i, length, sec(0.05, sr)), sr);
    },
  },
  {
    name: 'bass', audioType: 'music', pattern: 'repeated', pitched: true, register: [45, 90], noun: 'bass',
    subjects: ['bass guitar', 'bass', 'deep bass line'], verbs: ['plays', 'thumps', 'pulses'],
    synth: (out, start, length, ev, _rng, sr) =>
      hits(start, length, ev.count, (at, slot, k) => {
        const f0 = ev.f0 * [1, 1.5, 1.33, 1.12][k % 4];
        const amps = SAW.slice(0, 10);
        addHarmonics(out, at, slot, f0, amps, (i) => norm(amps) * 2 * ev.amp * Math.exp(-i / sec(0.35, sr)) * edge(i, slot, sec(0.005, sr)), sr);
      }),
  },
  {
    name: 'kick drum', audioType: 'music', pattern: 'repeated', pitched: false, noun: 'kick drum',
    subjects: ['kick drum', 'bass drum', 'drum kick'], verbs: ['thumps', 'hits', 'beats'],
    synth: (out, start, length, ev, _rng, sr) =>
      hits(start, length, ev.count, (at, slot) => {
        const n = Math.min(slot, sec(0.3, sr));
        let phase = 0;
        for (let i = 0; i < n && at + i < out.length; i++) {
          const f = 45 + 90 * Math.exp(-i / sec(0.03, sr));
          phase += (TAU * f) / sr;
          out[at + i] += ev.amp * Math.sin(phase) * Math.exp(-i / sec(0.09, sr));
        }
      }),
  },
  {
    name: 'snare drum', audioType: 'music', pattern: 'repeated', pitched: false, noun: 'snare',
    subjects: ['snare drum', 'snare', 'snare hit'], verbs: ['cracks', 'hits', 'snaps'],
    synth: (out, start, length, ev, rng, sr) =>
      hits(start, length, ev.count, (at, slot) => {
        const n = Math.min(slot, sec(0.2, sr));
        addNoise(out, at, n, rng, (i) => 0.8 * ev.amp * Math.exp(-i / sec(0.05, sr)), 0.5);
        addHarmonics(out, at, n, 190, [1], (i) => 0.5 * ev.amp * Math.exp(-i / sec(0.03, sr)), sr);
      }),
  },
  {
    name: 'hi hat', audioType: 'music', pattern: 'repeated', pitched: false, noun: 'hi hat',
    subjects: ['hi hat', 'closed hi hat', 'hi hat cymbal'], verbs: ['ticks', 'taps', 'clicks'],
    synth: (out, start, length, ev, rng, sr) =>
      hits(start, length, ev.count, (at, slot) => {
        // Each hit is a pair of very short bright noise bursts.
        for (let r = 0; r < 2; r++) {
          const n = Math.min(Math.floor(slot / 2), sec(0.05, sr));
          addNoise(out, at + r * Math.floor(slot / 4), n, rng, (i) => 0.5 * ev.amp * Math.exp(-i / sec(0.012, sr)), 1, true);
        }
      }),
  },
  {
    name: 'cymbal', audioType: 'music', pattern: 'repeated', pitched: false, noun: 'cymbal',
    subjects: ['cymbal', 'crash cymbal', 'cymbal crash'], verbs: ['crashes', 'shimmers', 'rings out'],
    synth: (out, start, length, ev, rng, sr) =>
      hits(start, length, ev.count, (at, slot) => {
        addNoise(out, at, slot, rng, (i) => 0.35 * ev.amp * Math.exp(-i / sec(0.35, sr)) * edge(i, slot, sec(0.002, sr)), 1, true);
        for (const f of [3150, 4270, 5390]) {
          if (f < 0.45 * sr) addHarmonics(out, at, slot, f, [0.2], (i) => ev.amp * Math.exp(-i / sec(0.3, sr)) * edge(i, slot, sec(0.002, sr)), sr);
        }
      }),
  },
  {
    name: 'marimba', audioType: 'music', pattern: 'repeated', pitched: true, register: [300, 800], noun: 'marimba',
    subjects: ['marimba', 'xylophone', 'wooden marimba'], verbs: ['plays', 'tinkles', 'taps out notes'],
    synth: (out, start, length, ev, _rng, sr) =>
      hits(start, length, ev.count, (at, slot, k) => {
        const f0 = ev.f0 * [1, 1.5, 1.26, 2][k % 4];
        const n = Math.min(slot, sec(0.35, sr));
        addHarmonics(out, at, n, f0, [1], (i) => 0.9 * ev.amp * Math.exp(-i / sec(0.08, sr)) * edge(i, n, sec(0.002, sr)), sr);
        if (4 * f0 < 0.45 * sr) addHarmonics(out, at, n, 4 * f0, [0.3], (i) => ev.amp * Math.exp(-i / sec(0.02, sr)), sr);
      }),
  },
];

export function classByName(name: string): EventClass {
  const c = WORLD_CLASSES.find((k) => k.name === name);
  if (!c) throw new Error(`unknown world class "${name}"; known: ${WORLD_CLASSES.map((k) => k.name).join(', ')}`);
  return c;
}
