/** Drawing a waveform and a log-mel spectrogram on canvases (pure functions of the data + a 2D context). */

/** Min / max of each of `columns` equal slices of the signal (what a waveform view draws). */
export function waveformEnvelope(samples: Float32Array, columns: number): { min: Float32Array; max: Float32Array } {
  const min = new Float32Array(columns);
  const max = new Float32Array(columns);
  for (let c = 0; c < columns; c++) {
    const from = Math.floor((c * samples.length) / columns);
    const to = Math.max(from + 1, Math.floor(((c + 1) * samples.length) / columns));
    let lo = Infinity;
    let hi = -Infinity;
    for (let i = from; i < to && i < samples.length; i++) {
      lo = Math.min(lo, samples[i]);
      hi = Math.max(hi, samples[i]);
    }
    min[c] = Number.isFinite(lo) ? lo : 0;
    max[c] = Number.isFinite(hi) ? hi : 0;
  }
  return { min, max };
}

export function drawWaveform(canvas: HTMLCanvasElement, samples: Float32Array): void {
  const ctx = canvas.getContext('2d');
  if (!ctx) return;
  const { width, height } = canvas;
  ctx.fillStyle = '#10151c';
  ctx.fillRect(0, 0, width, height);
  const { min, max } = waveformEnvelope(samples, width);
  let peak = 1e-9;
  for (let i = 0; i < width; i++) peak = Math.max(peak, Math.abs(min[i]), Math.abs(max[i]));
  ctx.fillStyle = '#4fc3f7';
  for (let x = 0; x < width; x++) {
    const top = ((1 - max[x] / peak) * height) / 2;
    const bottom = ((1 - min[x] / peak) * height) / 2;
    ctx.fillRect(x, top, 1, Math.max(1, bottom - top));
  }
}

/** Maps a value in [0, 1] to an RGB colour (dark blue -> yellow). */
export function heatColour(t: number): [number, number, number] {
  const v = Math.min(1, Math.max(0, t));
  return [Math.round(255 * Math.min(1, 1.8 * v)), Math.round(255 * v * v), Math.round(255 * (0.35 + 0.4 * Math.sin(Math.PI * v)) * (1 - v) + 40 * v)];
}

/** Log-mel frames [frames, nMels] (row-major), low frequencies at the bottom. */
export function drawLogMel(canvas: HTMLCanvasElement, mel: Float32Array, frames: number, nMels: number): void {
  const ctx = canvas.getContext('2d');
  if (!ctx || frames === 0 || nMels === 0) return;
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of mel.subarray(0, frames * nMels)) {
    lo = Math.min(lo, v);
    hi = Math.max(hi, v);
  }
  const image = ctx.createImageData(frames, nMels);
  for (let f = 0; f < frames; f++) {
    for (let m = 0; m < nMels; m++) {
      const [r, g, b] = heatColour((mel[f * nMels + m] - lo) / (hi - lo || 1));
      const at = ((nMels - 1 - m) * frames + f) * 4;
      image.data[at] = r;
      image.data[at + 1] = g;
      image.data[at + 2] = b;
      image.data[at + 3] = 255;
    }
  }
  const tmp = document.createElement('canvas');
  tmp.width = frames;
  tmp.height = nMels;
  tmp.getContext('2d')!.putImageData(image, 0, 0);
  ctx.imageSmoothingEnabled = false;
  ctx.drawImage(tmp, 0, 0, canvas.width, canvas.height);
}
