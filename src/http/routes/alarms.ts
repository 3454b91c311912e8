/** Alarms: list (by state) and acknowledge. Through the access policy (alarm:ack for care-team clinicians) and audited. */
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import type { AlarmState } from '../../monitoring/alarm-lifecycle.ts';
import { actorOf } from '../auth-hook.ts';
import type { HttpContext } from '../context.ts';
import { IdParams, Nullable } from './schemas.ts';

const src = { source: 'http' };

export const AlarmSchema = Type.Object({
  id: Type.String(),
  patientId: Type.String(),
  kind: Type.String(),
  category: Type.String(),
  priority: Type.String(),
  source: Type.String(),
  state: Type.String(),
  latching: Type.Boolean(),
  conditionPresent: Type.Boolean(),
  text: Type.String(),
  value: Nullable(Type.Number()),
  limit: Nullable(Type.Number()),
  raisedAt: Type.Integer(),
  acknowledgedAt: Nullable(Type.Integer()),
  acknowledgedBy: Nullable(Type.String()),
  resolvedAt: Nullable(Type.Integer()),
  resolvedBy: Nullable(Type.String()),
  resolution: Nullable(Type.String()),
  escalatedAt: Nullable(Type.Integer()),
  deviceId: Nullable(Type.String()),
  deviceAlarmId: Nullable(Type.String()),
});

export function alarmsRoutes(app: FastifyInstance, ctx: HttpContext): void {
  const { alarms } = ctx.services;
  const auth = { onRequest: ctx.authenticate };

  app.get(
    '/api/alarms',
    {
      ...auth,
      schema: {
        tags: ['alarms'],
        summary: 'Alarms of the patients the caller may see, newest first',
        querystring: Type.Object(
          {
            state: Type.Optional(
              Type.Union(
                ['active', 'acknowledged', 'resolved', 'open'].map((s) => Type.Literal(s)),
                {
                  description: 'open = active or acknowledged',
                },
              ),
            ),
            patientId: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
            limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
          },
          { additionalProperties: false },
        ),
        response: { 200: Type.Array(AlarmSchema) },
      },
    },
    async (req) => {
      const q = req.query as { state?: AlarmState | 'open'; patientId?: string; limit?: number };
      return alarms.list(actorOf(req), q, src);
    },
  );

  app.post(
    '/api/alarms/:id/ack',
    {
      ...auth,
      schema: {
        tags: ['alarms'],
        summary: "Acknowledge an alarm (clinicians on the patient's care team or ward)",
        params: IdParams,
        response: { 200: AlarmSchema },
      },
    },
    async (req) => alarms.acknowledge(actorOf(req), (req.params as { id: string }).id, src),
  );
}
