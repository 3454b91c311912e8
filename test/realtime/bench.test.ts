/** The real-time benchmark runs (tiny sizes, no Chromium): numbers mean nothing here, only that it works. */
import { describe, expect, it } from 'vitest';
import { run } from '../../bench/realtime.ts';

describe('bench realtime --quick', () => {
  it('delivers every published event to every client and reports the bundles', async () => {
    const r = await run({ quick: true, args: ['--no-dashboard'] });
    const rows = (
      r.details as {
        rows: Array<{ clients: number; connected: number; deliveries: number; expected: number }>;
      }
    ).rows;
    expect(rows).toHaveLength(1);
    expect(rows[0]!.connected).toBe(rows[0]!.clients);
    expect(rows[0]!.deliveries).toBe(rows[0]!.expected);
    expect(rows[0]!.expected).toBeGreaterThan(0);
    const names = r.metrics.map((m) => m.name);
    expect(names).toContain('50 clients: delivery p99');
    expect(names).toContain('index.html gzip');
  });
});
