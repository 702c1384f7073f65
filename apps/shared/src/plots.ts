import { existsSync } from 'node:fs';
import { Resvg } from '@resvg/resvg-js';
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import { writeFileAtomic } from '@mats/core';

/**
 * Pictures: a Vega-Lite spec is compiled to Vega, rendered headless to SVG by Vega itself, and the
 * SVG is rasterised to PNG by resvg (no browser, no canvas, no network).
 */

const FONT = 'DejaVu Sans, Liberation Sans, Arial, Helvetica, sans-serif';
const FONT_FILES = ['/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf', '/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf'];

/** Renders a Vega-Lite spec to SVG text. */
export async function renderSvg(spec: TopLevelSpec): Promise<string> {
  const vgSpec = compile({ ...spec, config: { font: FONT, ...(spec.config ?? {}) } } as TopLevelSpec).spec;
  const view = new vega.View(vega.parse(vgSpec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/** Renders a Vega-Lite spec to PNG bytes (scale 2 for a sharp image). */
export async function renderPng(spec: TopLevelSpec, scale = 2): Promise<Uint8Array> {
  const svg = await renderSvg(spec);
  const resvg = new Resvg(svg, {
    fitTo: { mode: 'zoom', value: scale },
    background: 'white',
    font: { loadSystemFonts: true, fontFiles: FONT_FILES.filter((f) => existsSync(f)), defaultFontFamily: 'DejaVu Sans' },
  });
  return resvg.render().asPng();
}

export async function writePng(path: string, spec: TopLevelSpec): Promise<void> {
  writeFileAtomic(path, await renderPng(spec));
}

export interface LossPoint {
  step: number;
  loss: number;
  split: 'train' | 'validation';
}

/** The training curve: train loss per logged step and validation loss, against the step. */
export function lossCurveSpec(points: LossPoint[], title: string): TopLevelSpec {
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title,
    width: 560,
    height: 320,
    data: { values: points },
    mark: { type: 'line', point: { size: 18 } },
    encoding: {
      x: { field: 'step', type: 'quantitative', title: 'step' },
      y: { field: 'loss', type: 'quantitative', title: 'cross-entropy (answer + eos)', scale: { zero: false } },
      color: { field: 'split', type: 'nominal', title: null, scale: { domain: ['train', 'validation'], range: ['#4c78a8', '#e45756'] } },
    },
  } as TopLevelSpec;
}

export interface ScatterPoint {
  panel: string;
  x: number;
  y: number;
  modality: 'text' | 'audio';
}

/**
 * Paper Figure 3 for our run: one panel per method, text embeddings in blue and their paired audio
 * embeddings in red, each panel projected on its own two principal axes.
 */
export function embeddingPanelsSpec(points: ScatterPoint[], panels: string[], title: string): TopLevelSpec {
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title,
    data: { values: points },
    facet: { field: 'panel', type: 'nominal', title: null, sort: panels, header: { labelFontSize: 12, labelLimit: 0 } },
    columns: 2,
    spec: {
      width: 300,
      height: 260,
      mark: { type: 'circle', size: 14, opacity: 0.6 },
      encoding: {
        x: { field: 'x', type: 'quantitative', title: 'PC 1', axis: { labels: false, ticks: false } },
        y: { field: 'y', type: 'quantitative', title: 'PC 2', axis: { labels: false, ticks: false } },
        color: { field: 'modality', type: 'nominal', title: null, scale: { domain: ['text', 'audio'], range: ['#1f77b4', '#d62728'] } },
      },
    },
    resolve: { scale: { x: 'independent', y: 'independent' } },
  } as TopLevelSpec;
}
