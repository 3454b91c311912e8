/** The real-time benchmark runs (tiny sizes, no Chromium): numbers mean nothing here, only that it works. */
import { describe, expect, it } from 'vitest';
import { run } from '../../bench/realtime.ts';

describe('bench realtime --quick', () => {
  it('delivers every published event to every client and reports the bundles', async () => {
    const r = await run({ quick: true, args: ['--no-dashboard'] });
    const rows = (
      r.details as {
        rows: Array<{
          server: string;
          clients: number;
          connected: number;
          deliveries: number;
          expected: number;
        }>;
      }
    ).rows;
    // CareWire, then the bare-ws floor at the same size.
    expect(rows.map((r) => r.server)).toEqual(['CareWire', 'floor: bare ws, direct writes']);
    for (const row of rows) {
      expect(row.connected).toBe(row.clients);
      expect(row.deliveries).toBe(row.expected);
      expect(row.expected).toBeGreaterThan(0);
    }
    const names = r.metrics.map((m) => m.name);
    expect(names).toContain('50 clients: delivery p99');
    expect(names).toContain('50 clients (floor): delivery p99');
    expect(names).toContain('index.html gzip');
  });
});
