/** The HTTP benchmark runs end to end on a tiny size (its numbers are not checked: speed is not timed in tests). */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { runBenchmark } from '../../bench/lib/harness.ts';
import { tempDir } from '../helpers/app.ts';

describe('bench http --quick', () => {
  it('serves authenticated requests without errors and writes its results file', async () => {
    const resultsDir = tempDir('cw-bench-results-');
    const { path } = await runBenchmark('http', { quick: true, args: [], resultsDir, out: null });
    const file = JSON.parse(readFileSync(path, 'utf8'));
    const names = file.result.metrics.map((m: { name: string }) => m.name);
    expect(names).toEqual(
      expect.arrayContaining(['GET /api/me throughput', 'login latency p50', 'server CPU per request']),
    );
    // Every request of the load must have been answered 200: a 401 or 429 would count as an error.
    expect(file.result.details.errors).toBe(0);
    expect(file.result.metrics[0].median).toBeGreaterThan(0);
  }, 60_000);
});
