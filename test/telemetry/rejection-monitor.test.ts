import { describe, expect, it } from 'vitest';
import type { AuditEvent, AuditLog } from '../../src/audit/log.ts';
import { RejectionMonitor } from '../../src/telemetry/rejection-monitor.ts';

function fakeAudit(): { audit: AuditLog; events: AuditEvent[] } {
  const events: AuditEvent[] = [];
  const audit = {
    append: async (e: AuditEvent) => {
      events.push(e);
      return { ...e, seq: events.length, id: String(events.length), recorded: 0 };
    },
  } as unknown as AuditLog;
  return { audit, events };
}

describe('RejectionMonitor', () => {
  it('audits one security event per burst, with counts by reason and sampled addresses', async () => {
    let now = 1000;
    const { audit, events } = fakeAudit();
    const m = new RejectionMonitor({
      source: 'telemetry',
      audit,
      now: () => now,
      quietMs: 5000,
      maxBurstMs: 60_000,
    });
    for (let i = 0; i < 500; i++) {
      m.reject(i % 2 ? 'bad_tag' : 'unknown_device', `10.0.0.${i % 20}`, `dev-${i % 3}`, true);
      now += 1;
    }
    await m.check();
    expect(events).toHaveLength(0); // still inside the burst
    now += 5000;
    await m.check();
    expect(events).toHaveLength(1);
    const e = events[0]!;
    expect(e).toMatchObject({ type: 'telemetry.rejected', outcome: 4, source: 'telemetry' });
    expect(e.detail).toMatchObject({ total: 500, byReason: { bad_tag: 250, unknown_device: 250 } });
    expect((e.detail as { addresses: string[] }).addresses).toHaveLength(10);
    expect((e.detail as { deviceIds: string[] }).deviceIds.sort()).toEqual(['dev-0', 'dev-1', 'dev-2']);
    // A malformed datagram is counted but opens no security burst.
    m.reject('bad_magic', '10.0.0.1', null, false);
    now += 10_000;
    await m.check();
    expect(events).toHaveLength(1);
    expect(m.totals.get('bad_magic')).toBe(1);
    expect(m.totals.get('bad_tag')).toBe(250);
  });

  it('reports a burst that never goes quiet every maxBurstMs', async () => {
    let now = 0;
    const { audit, events } = fakeAudit();
    const m = new RejectionMonitor({
      source: 'alarm',
      audit,
      now: () => now,
      quietMs: 5000,
      maxBurstMs: 60_000,
    });
    for (let i = 0; i < 130; i++) {
      m.reject('auth_failed', '::1', null, true);
      now += 1000;
      await m.check();
    }
    expect(events).toHaveLength(2);
    await m.stop();
    expect(events).toHaveLength(3);
  });
});
