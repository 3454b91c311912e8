/** Events from callers become valid canonical entries, whatever text an attacker put in them. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { entryToRecord, eventToEntry, otherPatients } from '../../src/audit/event-entry.ts';
import { decodeEntry, encodeEntry, validateEntry } from '../../src/audit/merkle/index.ts';

describe('event → entry', () => {
  it('any agent, entity and detail text yields an entry that validates and round-trips', () => {
    const text = fc.string({ unit: 'binary', maxLength: 400 });
    fc.assert(
      fc.property(
        text,
        text,
        text,
        text,
        fc.dictionary(fc.string(), fc.jsonValue()),
        (user, addr, pid, rid, detail) => {
          const entry = eventToEntry(7, 'id-7', 1_700_000_000_123, {
            type: 'auth.login',
            action: 'E',
            outcome: 4,
            agent: { username: user, address: addr, userId: user, role: 'clinician' },
            patientId: pid,
            entity: { type: 'Patient', id: rid },
            outcomeDesc: user,
            detail: { ...detail, lone: '\ud800x', when: new Date(0), nothing: undefined, nan: Number.NaN },
          });
          validateEntry(entry);
          const bytes = encodeEntry(entry);
          expect(decodeEntry(bytes)).toEqual(JSON.parse(Buffer.from(bytes).toString('utf8')));
        },
      ),
      { numRuns: 200 },
    );
  });

  it('keeps the event fields, and lists the other patients a list showed', () => {
    const event = {
      type: 'patient.list',
      action: 'R' as const,
      outcome: 0 as const,
      agent: { userId: 'u1', username: 'dr', role: 'clinician', address: '' },
      source: 'http',
      purpose: 'TREAT',
      detail: { patientIds: ['p1', 'p2', 7, '', 'x'.repeat(300)] },
    };
    const entry = eventToEntry(3, 'abc', Date.UTC(2026, 0, 2, 3, 4, 5, 6), event);
    expect(entry).toMatchObject({ seq: 3, recorded: '2026-01-02T03:04:05.006Z', agent: { userId: 'u1' } });
    expect(entry.agent.address).toBeUndefined(); // empty strings are absent, not invalid
    const back = entryToRecord(entry);
    expect(back).toMatchObject({ seq: 3, id: 'abc', type: 'patient.list', purpose: 'TREAT' });
    expect(otherPatients(event)).toEqual(['p1', 'p2']);
  });
});
