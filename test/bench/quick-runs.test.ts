/**
 * Every benchmark runs end to end on its tiny size and reports figures (the numbers themselves are
 * not checked: speed is measured by `npm run bench`, never timed in tests). http, transport and
 * realtime have their own tests.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { runBenchmark } from '../../bench/lib/harness.ts';
import { tempDir } from '../helpers/app.ts';

describe.each(['hl7-codec', 'audit-merkle', 'hl7', 'telemetry', 'audit', 'fhir'])(
  'bench %s --quick',
  (name) => {
    it('runs and writes a results file with finite metrics', async () => {
      const resultsDir = tempDir('cw-bench-quick-');
      const { path } = await runBenchmark(name, { quick: true, args: [], resultsDir, out: null });
      const file = JSON.parse(readFileSync(path, 'utf8'));
      expect(file.benchmark).toBe(name);
      expect(file.quick).toBe(true);
      expect(file.result.metrics.length).toBeGreaterThan(0);
      for (const m of file.result.metrics) expect(Number.isFinite(m.median)).toBe(true);
    }, 120_000);
  },
);
