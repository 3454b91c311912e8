/** Device registry administration (admin, action device:manage); each change audited. */
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { actorOf } from '../auth-hook.ts';
import type { HttpContext } from '../context.ts';
import { IdParams, Nullable } from './schemas.ts';

const src = { source: 'http' };

const DeviceSchema = Type.Object({
  id: Type.String(),
  patientId: Nullable(Type.String()),
  bed: Nullable(Type.String()),
  description: Nullable(Type.String()),
  createdAt: Type.Integer(),
  disabled: Type.Boolean(),
});

export function devicesRoutes(app: FastifyInstance, ctx: HttpContext): void {
  const { devices, gate } = ctx.services;
  const auth = { onRequest: ctx.authenticate };
  const system = { type: 'system' } as const;

  app.get(
    '/api/devices',
    {
      ...auth,
      schema: {
        tags: ['admin'],
        summary: 'Registered devices (admin)',
        response: { 200: Type.Array(DeviceSchema) },
      },
    },
    async (req) => {
      const actor = actorOf(req);
      const decision = await gate.check(actor, 'device:manage', system, src);
      const list = await devices.list();
      await gate.record(actor, 'device:manage', decision, src, {
        type: 'device.list',
        detail: { count: list.length },
      });
      return list;
    },
  );

  app.post(
    '/api/devices',
    {
      ...auth,
      schema: {
        tags: ['admin'],
        summary: 'Register a device (admin); the response holds its key, shown this once',
        body: Type.Object(
          {
            id: Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9._:-]+$' }),
            patient: Type.Optional(
              Nullable(Type.String({ maxLength: 64, description: 'patient id or MRN' })),
            ),
            bed: Type.Optional(Nullable(Type.String({ maxLength: 32 }))),
            description: Type.Optional(Nullable(Type.String({ maxLength: 200 }))),
          },
          { additionalProperties: false },
        ),
        response: {
          201: Type.Object({ device: DeviceSchema, key: Type.String({ description: 'base64url' }) }),
        },
      },
    },
    async (req, reply) => {
      const actor = actorOf(req);
      await gate.check(actor, 'device:manage', system, src);
      const b = req.body as {
        id: string;
        patient?: string | null;
        bed?: string | null;
        description?: string | null;
      };
      // DeviceRegistry.add writes the audit entry (device.add) itself, for the CLI and the API alike.
      const out = await devices.add(b, {
        agent: { userId: actor.userId, username: actor.username, role: actor.role, address: actor.address },
        source: 'http',
      });
      return reply.code(201).header('cache-control', 'no-store').send(out);
    },
  );

  app.delete(
    '/api/devices/:id',
    {
      ...auth,
      schema: {
        tags: ['admin'],
        summary: 'Remove a device (admin)',
        params: IdParams,
        response: { 204: Type.Null() },
      },
    },
    async (req, reply) => {
      const actor = actorOf(req);
      await gate.check(actor, 'device:manage', system, src);
      await devices.remove((req.params as { id: string }).id, {
        agent: { userId: actor.userId, username: actor.username, role: actor.role, address: actor.address },
        source: 'http',
      });
      return reply.code(204).send();
    },
  );
}
