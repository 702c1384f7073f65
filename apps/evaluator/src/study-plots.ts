/** Vega-Lite specs of the study's pictures: Table 4 as bars with error bars, and the noise-variance curve. */
import type { writePng } from '@mats/app-shared';
import type { Stat } from './study-stats.js';

type Spec = Parameters<typeof writePng>[1];

interface Point {
  task: string;
  label: string;
  mean: number;
  low: number;
  high: number;
  chance: number;
}

function point(task: string, metric: string, label: string, stat: Stat, chance: number): Point {
  const std = stat.std ?? 0;
  return { task: `${task} (${metric})`, label, mean: stat.mean, low: stat.mean - std, high: stat.mean + std, chance };
}

/** Table 4: one panel per task, a bar per row (mean over seeds), error bars of +- one standard deviation, chance as a dashed rule. */
export function table4Spec(
  rows: { short: string; tasks: Record<string, { stat: Stat }> }[],
  tasks: string[],
  metric: Record<string, string>,
  chance: Record<string, number>,
  seeds: number,
): Spec {
  const values = rows.flatMap((r) => tasks.map((t) => point(t, metric[t], r.short, r.tasks[t].stat, chance[t])));
  const order = rows.map((r) => r.short);
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: `Table 4 on the world: mean ± std over ${seeds} seed(s); dashed line: chance / baseline`,
    data: { values },
    facet: { field: 'task', type: 'nominal', title: null, sort: tasks.map((t) => `${t} (${metric[t]})`), header: { labelFontSize: 12 } },
    columns: 2,
    spec: {
      width: 320,
      height: 220,
      layer: [
        {
          mark: 'bar',
          encoding: {
            x: { field: 'label', type: 'nominal', sort: order, title: null, axis: { labelAngle: -35, labelLimit: 220 } },
            y: { field: 'mean', type: 'quantitative', title: 'mean over seeds' },
            color: { field: 'label', type: 'nominal', sort: order, legend: null },
          },
        },
        {
          mark: { type: 'errorbar', ticks: { color: 'black', size: 12 }, rule: { color: 'black' } },
          encoding: { x: { field: 'label', type: 'nominal', sort: order }, y: { field: 'low', type: 'quantitative', title: 'mean over seeds' }, y2: { field: 'high' } },
        },
        { mark: { type: 'rule', strokeDash: [4, 4], color: 'black' }, encoding: { y: { aggregate: 'mean', field: 'chance', type: 'quantitative', title: 'mean over seeds' } } },
      ],
    },
    resolve: { scale: { y: 'independent' } },
  } as Spec;
}

/** Paper Figure 4: the headline of each task against the training noise variance, mean +- std over seeds. */
export function varianceSpec(
  curve: { variance: number; tasks: Record<string, { stat: Stat }> }[],
  tasks: string[],
  metric: Record<string, string>,
  chance: Record<string, number>,
  seeds: number,
): Spec {
  const values = curve.flatMap((c) => tasks.map((t) => point(t, metric[t], String(c.variance), c.tasks[t].stat, chance[t])));
  const order = curve.map((c) => String(c.variance));
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: `Noise variance (paper Figure 4): MATS with Santa, mean ± std over ${seeds} seed(s); dashed: chance / baseline`,
    data: { values },
    facet: { field: 'task', type: 'nominal', title: null, sort: tasks.map((t) => `${t} (${metric[t]})`), header: { labelFontSize: 12 } },
    columns: 2,
    spec: {
      width: 300,
      height: 200,
      layer: [
        {
          mark: { type: 'line', point: true },
          encoding: { x: { field: 'label', type: 'ordinal', sort: order, title: 'training noise variance', axis: { labelAngle: 0 } }, y: { field: 'mean', type: 'quantitative', title: 'mean over seeds', scale: { zero: false } } },
        },
        {
          mark: { type: 'errorbar', ticks: { color: 'black', size: 12 }, rule: { color: 'black' } },
          encoding: { x: { field: 'label', type: 'ordinal', sort: order }, y: { field: 'low', type: 'quantitative', title: 'mean over seeds' }, y2: { field: 'high' } },
        },
        { mark: { type: 'rule', strokeDash: [4, 4], color: 'black' }, encoding: { y: { aggregate: 'mean', field: 'chance', type: 'quantitative', title: 'mean over seeds' } } },
      ],
    },
    resolve: { scale: { y: 'independent' } },
  } as Spec;
}
