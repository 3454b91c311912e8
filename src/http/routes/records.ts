/**
 * Manual records (versioned, never overwritten) and "who accessed my record".
 *
 *   GET  /api/patients/:id/records       latest version of each record
 *   POST /api/patients/:id/records       add a record (temperature, blood pressure, weight, note)
 *   PUT  /api/records/:id                a new version of a record
 *   GET  /api/records/:id/history        every version, oldest first
 *   GET  /api/patients/:id/access-log    every access to the patient's data, from the audit log
 */
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import type { AuditRecord } from '../../audit/log.ts';
import { MAX_NOTE, RECORD_KINDS, type RecordInput } from '../../clinical/records.ts';
import { actorOf } from '../auth-hook.ts';
import type { HttpContext } from '../context.ts';
import { IdParams, Nullable } from './schemas.ts';

const src = { source: 'http' };

const RecordSchema = Type.Object({
  id: Type.String(),
  versionId: Type.String(),
  version: Type.Integer(),
  previousVersionId: Nullable(Type.String()),
  patientId: Type.String(),
  kind: Type.String(),
  value: Nullable(Type.Number()),
  systolic: Nullable(Type.Number()),
  diastolic: Nullable(Type.Number()),
  unit: Nullable(Type.String()),
  text: Nullable(Type.String()),
  effectiveAt: Type.String(),
  recordedAt: Type.String(),
  author: Type.Object({ id: Type.String(), role: Type.String(), name: Type.String() }),
});

const Fields = {
  value: Type.Optional(Type.Number({ description: 'temperature in °C (Cel) or weight in kg' })),
  systolic: Type.Optional(Type.Number({ description: 'mm[Hg]' })),
  diastolic: Type.Optional(Type.Number({ description: 'mm[Hg]' })),
  text: Type.Optional(Type.String({ maxLength: MAX_NOTE })),
  effectiveAt: Type.Optional(Type.String({ format: 'date-time' })),
};
const Kind = Type.Union(RECORD_KINDS.map((k) => Type.Literal(k)));

const AccessEntry = Type.Object({
  seq: Type.Integer(),
  recorded: Type.String(),
  type: Type.String(),
  action: Type.String(),
  outcome: Type.Integer(),
  who: Type.Object({ username: Nullable(Type.String()), role: Nullable(Type.String()) }),
  purpose: Nullable(Type.String()),
  source: Type.String(),
  breakGlass: Type.Boolean(),
});

/** What a patient is shown of an entry: who, when, what and why — not addresses or internal ids. */
function accessView(r: AuditRecord) {
  return {
    seq: r.seq,
    recorded: new Date(r.recorded).toISOString(),
    type: r.type,
    action: r.action,
    outcome: r.outcome,
    who: { username: r.agent?.username ?? null, role: r.agent?.role ?? null },
    purpose: r.purpose ?? null,
    source: r.source ?? 'app',
    breakGlass: r.purpose === 'ETREAT' || r.detail?.breakGlass === true,
  };
}

function toInput(b: {
  kind?: RecordInput['kind'];
  value?: number;
  systolic?: number;
  diastolic?: number;
  text?: string;
  effectiveAt?: string;
}): Partial<RecordInput> {
  return {
    kind: b.kind,
    value: b.value,
    systolic: b.systolic,
    diastolic: b.diastolic,
    text: b.text,
    effectiveAt: b.effectiveAt ? Date.parse(b.effectiveAt) : undefined,
  };
}

export function recordsRoutes(app: FastifyInstance, ctx: HttpContext): void {
  const { records, gate, audit } = ctx.services;
  const auth = { onRequest: ctx.authenticate };

  app.get(
    '/api/patients/:id/records',
    {
      ...auth,
      schema: {
        tags: ['records'],
        summary: "A patient's manual records, latest version of each (own record or care team)",
        params: IdParams,
        response: { 200: Type.Array(RecordSchema) },
      },
    },
    async (req) => records.list(actorOf(req), (req.params as { id: string }).id, src),
  );

  app.post(
    '/api/patients/:id/records',
    {
      ...auth,
      schema: {
        tags: ['records'],
        summary:
          'Add a record: temperature (value °C), blood-pressure (systolic, diastolic), weight (kg), note (text)',
        params: IdParams,
        body: Type.Object({ kind: Kind, ...Fields }, { additionalProperties: false }),
        response: { 201: RecordSchema },
      },
    },
    async (req, reply) => {
      const input = toInput(req.body as Parameters<typeof toInput>[0]) as RecordInput;
      const r = await records.add(actorOf(req), (req.params as { id: string }).id, input, src);
      return reply.code(201).send(r);
    },
  );

  app.put(
    '/api/records/:id',
    {
      ...auth,
      schema: {
        tags: ['records'],
        summary: 'Change a record: adds a version pointing to the previous one (nothing is overwritten)',
        params: IdParams,
        body: Type.Object(
          {
            kind: Type.Optional(Kind),
            ...Fields,
            expectVersionId: Type.Optional(
              Type.String({
                maxLength: 64,
                description: 'refuse with 409 unless this is still the latest version',
              }),
            ),
          },
          { additionalProperties: false },
        ),
        response: { 200: RecordSchema },
      },
    },
    async (req) => {
      const b = req.body as Parameters<typeof toInput>[0] & { expectVersionId?: string };
      return records.amend(
        actorOf(req),
        (req.params as { id: string }).id,
        { ...toInput(b), expectVersionId: b.expectVersionId },
        src,
      );
    },
  );

  app.get(
    '/api/records/:id/history',
    {
      ...auth,
      schema: {
        tags: ['records'],
        summary: 'Every version of a record, oldest first',
        params: IdParams,
        response: { 200: Type.Array(RecordSchema) },
      },
    },
    async (req) => records.history(actorOf(req), (req.params as { id: string }).id, src),
  );

  app.get(
    '/api/patients/:id/access-log',
    {
      ...auth,
      schema: {
        tags: ['records', 'audit'],
        summary:
          'Who accessed this record: every access to the patient’s data, newest first (the patient; auditors)',
        params: IdParams,
        querystring: Type.Object(
          {
            before: Type.Optional(Type.Integer({ minimum: 0 })),
            limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
          },
          { additionalProperties: false },
        ),
        response: { 200: Type.Array(AccessEntry) },
      },
    },
    async (req) => {
      const actor = actorOf(req);
      const patientId = (req.params as { id: string }).id;
      const q = req.query as { before?: number; limit?: number };
      const decision = await gate.check(actor, 'access-log:read', { type: 'patient', patientId }, src);
      const list = await audit.accessLog(patientId, q);
      await gate.record(actor, 'access-log:read', decision, src, {
        type: 'access-log.read',
        patientId,
        entity: { type: 'AuditEvent', id: '*' },
        detail: { count: list.length },
      });
      return list.map(accessView);
    },
  );
}
