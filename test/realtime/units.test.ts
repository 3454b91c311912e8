/** Pure parts of the real-time core: vitals coalescing, subscribe parsing, cookie reading, request budget. */
import { describe, expect, it } from 'vitest';
import { VitalsCoalescer } from '../../src/realtime/coalescer.ts';
import { credentialsOf, originAllowed, readCookie } from '../../src/realtime/handshake.ts';
import { parseSubscribe, RequestBudget } from '../../src/realtime/subscriptions.ts';

describe('VitalsCoalescer', () => {
  it('merges samples of one patient between flushes, newest value per sign', () => {
    const c = new VitalsCoalescer();
    c.add('p1', 1000, { heartRate: 80, spo2: 97 });
    c.add('p1', 2000, { heartRate: 90 });
    c.add('p1', 1500, { heartRate: 85, systolicBp: 120 }); // late: fills BP only
    c.add('p2', 1000, { heartRate: 60 });
    const out = c.drain();
    expect(out.get('p1')).toEqual({ ts: 2000, values: { heartRate: 90, spo2: 97, systolicBp: 120 } });
    expect(out.get('p2')).toEqual({ ts: 1000, values: { heartRate: 60 } });
    expect(c.merged).toBe(2);
    expect(c.size).toBe(0);
    expect(c.drain().size).toBe(0);
  });

  it('treats undefined signs (the in-process bus keeps such keys) as absent, never as erasing a value', () => {
    const c = new VitalsCoalescer();
    c.add('p1', 1000, { heartRate: 80, spo2: undefined });
    c.add('p1', 2000, { heartRate: undefined, spo2: 97 });
    c.add('p1', 500, { heartRate: undefined, temperature: 37.1 });
    expect(c.drain().get('p1')).toEqual({ ts: 2000, values: { heartRate: 80, spo2: 97, temperature: 37.1 } });
    c.add('p2', 1000, { heartRate: undefined });
    expect(Object.keys(c.drain().get('p2')!.values)).toEqual([]);
  });
});

describe('parseSubscribe', () => {
  it('accepts the three scopes and offsets', () => {
    expect(parseSubscribe({ sub: { scope: 'station' } })).toEqual({ sub: { scope: 'station' } });
    expect(
      parseSubscribe({
        sub: { scope: 'patient', patientId: 'a-1' },
        since: { alarms: 5, vitals: { 'a-1': 9 } },
      }),
    ).toEqual({
      sub: { scope: 'patient', patientId: 'a-1' },
      since: { alarms: 5, vitals: { 'a-1': 9 } },
    });
    expect(parseSubscribe({ sub: { scope: 'ward', ward: 'ICU-A' }, vitalsHistory: false })).toEqual({
      sub: { scope: 'ward', ward: 'ICU-A' },
      vitalsHistory: false,
    });
  });

  it.each([
    [undefined, 'expects an object'],
    [{}, 'sub is required'],
    [{ sub: { scope: 'all' } }, 'scope must be'],
    [{ sub: { scope: 'patient', patientId: 'x'.repeat(65) } }, 'patientId'],
    [{ sub: { scope: 'ward', ward: '' } }, 'ward'],
    [{ sub: { scope: 'station' }, since: 3 }, 'since must be an object'],
    [{ sub: { scope: 'station' }, since: { alarms: 1.5 } }, 'since.alarms'],
    [{ sub: { scope: 'station' }, since: { vitals: { 'a b': 1 } } }, 'since.vitals'],
  ])('refuses %j', (raw, msg) => {
    expect(() => parseSubscribe(raw)).toThrow(msg);
  });

  it('refuses more offsets than a station can have', () => {
    const vitals = Object.fromEntries(Array.from({ length: 2001 }, (_, i) => [`p${i}`, 1]));
    expect(() => parseSubscribe({ sub: { scope: 'station' }, since: { vitals } })).toThrow('more than 2000');
  });
});

describe('handshake credentials', () => {
  const h = (headers: Record<string, string>, auth: Record<string, unknown> = {}) => ({
    headers,
    auth,
    address: '::1',
    secure: false,
  });

  it('reads the token from auth, the Authorization header, or the cookie, in that order', () => {
    expect(credentialsOf(h({ cookie: 'cw_at=c' }, { token: 'a.b.c' }), 'cw_at')).toEqual({
      token: 'a.b.c',
      via: 'bearer',
    });
    expect(credentialsOf(h({ authorization: 'Bearer x.y', cookie: 'cw_at=c' }), 'cw_at')).toEqual({
      token: 'x.y',
      via: 'bearer',
    });
    expect(credentialsOf(h({ cookie: 'a=1; cw_at=tok; b=2' }), 'cw_at')).toEqual({
      token: 'tok',
      via: 'cookie',
    });
  });

  it('refuses missing, malformed and oversized credentials', () => {
    expect(() => credentialsOf(h({}), 'cw_at')).toThrow('authentication required');
    expect(() => credentialsOf(h({}, { token: 42 }), 'cw_at')).toThrow('malformed token');
    expect(() => credentialsOf(h({}, { token: 'a'.repeat(5000) }), 'cw_at')).toThrow('malformed token');
    expect(() => credentialsOf(h({ authorization: 'Basic abc' }), 'cw_at')).toThrow(
      'malformed Authorization',
    );
  });

  it('reads one cookie exactly and checks the Origin', () => {
    expect(readCookie('xcw_at=1; cw_at="q"', 'cw_at')).toBe('q');
    expect(readCookie('cw_atx=1', 'cw_at')).toBeUndefined();
    expect(originAllowed(h({ origin: 'http://h:1', host: 'h:1' }), new Set())).toBe(true);
    expect(originAllowed(h({ origin: 'http://evil', host: 'h:1' }), new Set())).toBe(false);
    expect(
      originAllowed(h({ origin: 'https://app.example', host: 'h:1' }), new Set(['https://app.example'])),
    ).toBe(true);
    expect(originAllowed(h({ host: 'h:1' }), new Set())).toBe(false);
  });
});

describe('RequestBudget', () => {
  it('allows max requests per window, then refuses with 429', () => {
    const b = new RequestBudget(2, 1000);
    b.take(0);
    b.take(10);
    expect(() => b.take(20)).toThrow('too many');
    b.take(1100);
  });
});
