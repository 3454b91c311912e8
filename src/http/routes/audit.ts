/** Audit log read access for auditors. Reading the audit log is itself audited. */
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { actorOf } from '../auth-hook.ts';
import type { HttpContext } from '../context.ts';

const src = { source: 'http' };

export function auditRoutes(app: FastifyInstance, ctx: HttpContext): void {
  const { gate, audit } = ctx.services;
  app.get(
    '/api/audit/events',
    {
      onRequest: ctx.authenticate,
      schema: {
        tags: ['audit'],
        summary: 'Audit events, oldest first (auditors)',
        querystring: Type.Object(
          {
            patientId: Type.Optional(Type.String({ maxLength: 64 })),
            userId: Type.Optional(Type.String({ maxLength: 64 })),
            type: Type.Optional(Type.String({ maxLength: 64 })),
            after: Type.Optional(Type.Integer({ minimum: 0 })),
            limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
          },
          { additionalProperties: false },
        ),
      },
    },
    async (req) => {
      const actor = actorOf(req);
      const q = req.query as {
        patientId?: string;
        userId?: string;
        type?: string;
        after?: number;
        limit?: number;
      };
      const decision = await gate.check(actor, 'audit:read', { type: 'system' }, src);
      const events = await audit.query({ ...q, afterSeq: q.after });
      await gate.record(actor, 'audit:read', decision, src, {
        type: 'audit.read',
        detail: { filter: q, count: events.length },
      });
      return events;
    },
  );
}
