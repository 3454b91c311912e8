/** A patient's vitals from devices (range, downsampled; latest values with their age) and NEWS2. */
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { actorOf } from '../auth-hook.ts';
import type { HttpContext } from '../context.ts';
import { IdParams, Nullable } from './schemas.ts';

const src = { source: 'http' };

const Time = Type.Union([Type.String({ format: 'date-time' }), Type.String({ pattern: '^\\d{1,15}$' })], {
  description: 'ISO 8601 date-time or milliseconds since the epoch',
});

function parseTime(s: string | undefined): number | undefined {
  if (s === undefined) return undefined;
  return /^\d+$/.test(s) ? Number(s) : Date.parse(s);
}

const Point = Type.Object({
  t: Type.Integer(),
  value: Type.Number(),
  min: Type.Number(),
  max: Type.Number(),
  n: Type.Integer(),
});

const Series = Type.Object({
  key: Type.String(),
  loinc: Type.String(),
  display: Type.String(),
  unit: Type.String(),
  bucketMs: Type.Integer({ description: '0: raw samples; else the width of each averaged bucket' }),
  points: Type.Array(Point),
});

const News2Schema = Type.Object({
  at: Type.Integer(),
  scale: Type.Integer(),
  total: Type.Integer(),
  complete: Type.Boolean(),
  missing: Type.Array(Type.String()),
  invalid: Type.Array(Type.String()),
  subScores: Type.Record(Type.String(), Type.Integer()),
  scoredValues: Type.Record(Type.String(), Type.Union([Type.Number(), Type.String(), Type.Boolean()])),
  band: Type.String(),
  risk: Type.String(),
  response: Type.String(),
  alarm: Nullable(Type.String()),
  singleParameterThree: Type.Boolean(),
});

export function vitalsRoutes(app: FastifyInstance, ctx: HttpContext): void {
  const { vitals, alarms } = ctx.services;
  const auth = { onRequest: ctx.authenticate };

  app.get(
    '/api/patients/:id/vitals',
    {
      ...auth,
      schema: {
        tags: ['vitals'],
        summary:
          "A patient's device vitals over a time range (default the last hour), downsampled to maxPoints",
        params: IdParams,
        querystring: Type.Object(
          {
            code: Type.Optional(
              Type.String({
                maxLength: 32,
                description: 'LOINC code (8867-4), sign (heartRate) or wire code',
              }),
            ),
            from: Type.Optional(Time),
            to: Type.Optional(Time),
            maxPoints: Type.Optional(Type.Integer({ minimum: 1, maximum: 10_000 })),
          },
          { additionalProperties: false },
        ),
        response: { 200: Type.Array(Series) },
      },
    },
    async (req) => {
      const q = req.query as { code?: string; from?: string; to?: string; maxPoints?: number };
      return vitals.range(
        actorOf(req),
        (req.params as { id: string }).id,
        { code: q.code, from: parseTime(q.from), to: parseTime(q.to), maxPoints: q.maxPoints },
        src,
      );
    },
  );

  app.get(
    '/api/patients/:id/vitals/latest',
    {
      ...auth,
      schema: {
        tags: ['vitals'],
        summary: "Each vital sign's latest value and its age",
        params: IdParams,
        response: {
          200: Type.Object({
            now: Type.Integer(),
            values: Type.Array(
              Type.Object({
                key: Type.String(),
                loinc: Type.String(),
                display: Type.String(),
                unit: Type.String(),
                value: Type.Number(),
                at: Type.Integer(),
                ageMs: Type.Integer(),
              }),
            ),
          }),
        },
      },
    },
    async (req) => vitals.latest(actorOf(req), (req.params as { id: string }).id, src),
  );

  app.get(
    '/api/patients/:id/news2',
    {
      ...auth,
      schema: {
        tags: ['vitals'],
        summary: "The patient's NEWS2 now: total, sub-scores, response band; missing inputs listed",
        params: IdParams,
        response: { 200: News2Schema },
      },
    },
    async (req) => alarms.news2Of(actorOf(req), (req.params as { id: string }).id, src),
  );

  app.put(
    '/api/patients/:id/news2/inputs',
    {
      ...auth,
      schema: {
        tags: ['vitals'],
        summary: 'Manual NEWS2 inputs: SpO2 scale (1 or 2), air or oxygen, consciousness (ACVPU)',
        params: IdParams,
        body: Type.Object(
          {
            spo2Scale: Type.Optional(Type.Union([Type.Literal(1), Type.Literal(2)])),
            onOxygen: Type.Optional(Type.Boolean()),
            oxygenFlow: Type.Optional(Type.Number({ minimum: 0, maximum: 100 })),
            consciousness: Type.Optional(Type.Union(['A', 'C', 'V', 'P', 'U'].map((c) => Type.Literal(c)))),
          },
          { additionalProperties: false, minProperties: 1 },
        ),
        response: { 204: Type.Null() },
      },
    },
    async (req, reply) => {
      await alarms.setNews2Inputs(
        actorOf(req),
        (req.params as { id: string }).id,
        req.body as Parameters<typeof alarms.setNews2Inputs>[2],
        src,
      );
      return reply.code(204).send();
    },
  );
}
