/** Patients the caller may see, one patient's record header, and break-the-glass. */
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { MAX_PAGE } from '../../clinical/observations.ts';
import { actorOf } from '../auth-hook.ts';
import type { HttpContext } from '../context.ts';
import { IdParams, Nullable, ObservationSchema, PatientSchema } from './schemas.ts';

const src = { source: 'http' };

export function patientRoutes(app: FastifyInstance, ctx: HttpContext): void {
  const { patients, gate, observations } = ctx.services;
  const auth = { onRequest: ctx.authenticate };

  app.get(
    '/api/patients',
    {
      ...auth,
      schema: {
        tags: ['patients'],
        summary: 'Patients the caller may see',
        response: { 200: Type.Array(PatientSchema) },
      },
    },
    async (req) => patients.list(actorOf(req), src),
  );

  app.get(
    '/api/patients/:id',
    {
      ...auth,
      schema: {
        tags: ['patients'],
        summary: 'One patient',
        params: IdParams,
        response: { 200: PatientSchema },
      },
    },
    async (req) => patients.get(actorOf(req), (req.params as { id: string }).id, src),
  );

  app.get(
    '/api/patients/:id/observations',
    {
      ...auth,
      schema: {
        tags: ['patients'],
        summary: "A patient's observations, newest first (clinical values: own record or care team)",
        params: IdParams,
        querystring: Type.Object(
          {
            code: Type.Optional(Type.String({ maxLength: 64, description: 'LOINC code, e.g. 8867-4' })),
            from: Type.Optional(Type.String({ format: 'date-time' })),
            to: Type.Optional(Type.String({ format: 'date-time' })),
            limit: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_PAGE })),
          },
          { additionalProperties: false },
        ),
        response: { 200: Type.Array(ObservationSchema) },
      },
    },
    async (req) => {
      const q = req.query as { code?: string; from?: string; to?: string; limit?: number };
      return observations.list(
        actorOf(req),
        (req.params as { id: string }).id,
        {
          code: q.code,
          from: q.from ? Date.parse(q.from) : undefined,
          to: q.to ? Date.parse(q.to) : undefined,
          limit: q.limit,
        },
        src,
      );
    },
  );

  app.post(
    '/api/patients',
    {
      ...auth,
      schema: {
        tags: ['patients', 'admin'],
        summary: 'Register a patient (admin)',
        body: Type.Object(
          {
            mrn: Type.String({ minLength: 1, maxLength: 64 }),
            givenName: Type.String({ maxLength: 100 }),
            familyName: Type.String({ maxLength: 100 }),
            sex: Type.Optional(
              Nullable(Type.Union(['male', 'female', 'other', 'unknown'].map((s) => Type.Literal(s)))),
            ),
            birthDate: Type.Optional(Nullable(Type.String({ pattern: '^\\d{4}-\\d{2}-\\d{2}$' }))),
            ward: Type.Optional(Nullable(Type.String({ maxLength: 64 }))),
            bed: Type.Optional(Nullable(Type.String({ maxLength: 64 }))),
          },
          { additionalProperties: false },
        ),
        response: { 201: PatientSchema },
      },
    },
    async (req, reply) => {
      const p = await patients.create(actorOf(req), req.body as Parameters<typeof patients.create>[1], src);
      return reply.code(201).send(p);
    },
  );

  app.post(
    '/api/patients/:id/break-glass',
    {
      ...auth,
      config: { rateLimit: { max: 10, timeWindow: '1 minute' } },
      schema: {
        tags: ['patients'],
        summary:
          'Emergency access to a patient outside your care team (clinicians; reason required, audited and flagged)',
        params: IdParams,
        body: Type.Object(
          { reason: Type.String({ minLength: 1, maxLength: 1000 }) },
          { additionalProperties: false },
        ),
        response: {
          201: Type.Object({ id: Type.String(), patientId: Type.String(), expiresAt: Type.String() }),
        },
      },
    },
    async (req, reply) => {
      const actor = actorOf(req);
      const patientId = (req.params as { id: string }).id;
      const { reason } = req.body as { reason: string };
      const decision = await gate.check(actor, 'break-glass', { type: 'patient', patientId }, src);
      const grant = await gate.policy.grantBreakGlass(actor, patientId, reason);
      await gate.record(actor, 'break-glass', decision, src, {
        type: 'break-glass',
        patientId,
        entity: { type: 'Patient', id: patientId },
        detail: { reason, grantId: grant.id, expiresAt: new Date(grant.expiresAt).toISOString() },
      });
      return reply
        .code(201)
        .send({ id: grant.id, patientId, expiresAt: new Date(grant.expiresAt).toISOString() });
    },
  );
}
