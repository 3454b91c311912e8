/**
 * The audit log as FHIR R4 AuditEvent (read-only, for auditors). The FHIR id is the entry's
 * sequence number in the log, so a read is a position in the append-only log. Only who, what,
 * when, from where and the outcome are shown: auditors see who touched which record, never the
 * clinical values (the log does not hold them).
 */

import { isIP } from 'node:net';
import type { AuditEventEntity, AuditEvent as FhirAuditEvent } from '@medplum/fhirtypes';
import type { AuditRecord } from '../audit/log.ts';
import { CW, HL7, SID } from './constants.ts';

/** Entity types the FHIR API serves, so their audit entries link to the resource. */
const FHIR_TYPES = new Set(['Patient', 'Observation', 'Flag', 'AuditEvent']);

export function toFhirAuditEvent(r: AuditRecord): FhirAuditEvent {
  const agent = r.agent ?? {};
  const who: NonNullable<FhirAuditEvent['agent'][number]['who']> = {
    display: agent.username ?? (agent.role ? agent.role : (r.source ?? 'system')),
  };
  if (agent.userId) who.identifier = { system: SID.user, value: agent.userId };
  const a: FhirAuditEvent['agent'][number] = { who, requestor: !!agent.userId };
  if (agent.userId) a.altId = agent.userId;
  if (agent.role) a.role = [{ text: agent.role }];
  if (agent.address) a.network = { address: agent.address, type: isIP(agent.address) ? '2' : '1' };
  const entity: AuditEventEntity[] = [];
  if (r.patientId)
    entity.push({
      what: { reference: `Patient/${r.patientId}` },
      role: { system: 'http://terminology.hl7.org/CodeSystem/object-role', code: '1', display: 'Patient' },
    });
  if (r.entity && !(r.entity.type === 'Patient' && r.entity.id === r.patientId)) {
    const e: AuditEventEntity =
      FHIR_TYPES.has(r.entity.type) && /^[A-Za-z0-9\-.]{1,64}$/.test(r.entity.id)
        ? { what: { reference: `${r.entity.type}/${r.entity.id}` } }
        : { what: { display: `${r.entity.type} ${r.entity.id}` } };
    entity.push(e);
  }
  if (r.detail && Object.keys(r.detail).length > 0) {
    entity.push({
      what: { display: 'detail' },
      detail: [{ type: 'detail', valueString: JSON.stringify(r.detail) }],
    });
  }
  const ev: FhirAuditEvent = {
    resourceType: 'AuditEvent',
    id: String(r.seq),
    type: { system: CW.auditEventType, code: r.type, display: r.type },
    action: r.action,
    recorded: new Date(r.recorded).toISOString(),
    outcome: String(r.outcome) as FhirAuditEvent['outcome'],
    agent: [a],
    source: {
      site: r.source ?? 'app',
      observer: { display: 'CareWire' },
      type: [{ system: HL7.securitySourceType, code: '4', display: 'Application Server' }],
    },
  };
  if (r.outcome !== 0 && typeof r.detail?.reason === 'string') ev.outcomeDesc = r.detail.reason;
  if (r.purpose) ev.purposeOfEvent = [{ coding: [{ system: HL7.actReason, code: r.purpose }] }];
  if (entity.length > 0) ev.entity = entity;
  return ev;
}
