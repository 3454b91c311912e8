/** Tables for benchmark output: the shared formatters, and the default table of metrics. */
import { formatTable, markdownTable, type Table } from '../../src/transport-bench/table.ts';
import { formatValue } from './measure.ts';
import type { BenchResult, Metric } from './types.ts';

export { formatTable, markdownTable, type Table };

export function metricsTable(metrics: Metric[], title?: string): Table {
  return {
    title,
    columns: ['metric', 'median', 'spread', 'runs', 'better'],
    rows: metrics.map((m) => [
      m.name,
      formatValue(m.median, m.unit),
      `±${((m.spread * 100) / 2).toFixed(1)} %`,
      m.runs.length,
      m.better,
    ]),
    align: ['left', 'right', 'right', 'right', 'left'],
  };
}

/** The tables a result shows: its own, or the default metrics table. */
export function resultTables(r: BenchResult): Table[] {
  return r.tables && r.tables.length > 0 ? r.tables : [metricsTable(r.metrics)];
}
