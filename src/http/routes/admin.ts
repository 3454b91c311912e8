/** Admin endpoints: user accounts and care-team links. Each passes the policy and is audited. */
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { PASSWORD_MAX } from '../../auth/passwords.ts';
import type { Role } from '../../store/schema.ts';
import { actorOf } from '../auth-hook.ts';
import type { HttpContext } from '../context.ts';
import { Nullable, RoleSchema, UserSchema } from './schemas.ts';

const src = { source: 'http' };

const CareTeamBody = Type.Object(
  {
    clinicianId: Type.String({ minLength: 1, maxLength: 64 }),
    patientId: Type.String({ minLength: 1, maxLength: 64 }),
  },
  { additionalProperties: false },
);

export function adminRoutes(app: FastifyInstance, ctx: HttpContext): void {
  const { users, gate, careTeams } = ctx.services;
  const auth = { onRequest: ctx.authenticate };

  app.get(
    '/api/users',
    {
      ...auth,
      schema: {
        tags: ['admin'],
        summary: 'All user accounts (admin)',
        response: { 200: Type.Array(UserSchema) },
      },
    },
    async (req) => {
      const actor = actorOf(req);
      const decision = await gate.check(actor, 'user:manage', { type: 'system' }, src);
      const list = await users.list();
      await gate.record(actor, 'user:manage', decision, src, {
        type: 'user.list',
        detail: { count: list.length },
      });
      return list;
    },
  );

  app.post(
    '/api/users',
    {
      ...auth,
      schema: {
        tags: ['admin'],
        summary: 'Create a user account (admin)',
        body: Type.Object(
          {
            username: Type.String({ minLength: 2, maxLength: 64 }),
            password: Type.String({ minLength: 1, maxLength: PASSWORD_MAX }),
            role: RoleSchema,
            displayName: Type.Optional(Type.String({ maxLength: 100 })),
            patientId: Type.Optional(Nullable(Type.String({ maxLength: 64 }))),
          },
          { additionalProperties: false },
        ),
        response: { 201: UserSchema },
      },
    },
    async (req, reply) => {
      const actor = actorOf(req);
      const decision = await gate.check(actor, 'user:manage', { type: 'system' }, src);
      const b = req.body as {
        username: string;
        password: string;
        role: Role;
        displayName?: string;
        patientId?: string | null;
      };
      const user = await users.create(b);
      await gate.record(actor, 'user:manage', decision, src, {
        type: 'user.create',
        patientId: user.patientId ?? undefined,
        entity: { type: 'User', id: user.id },
        detail: { username: user.username, role: user.role },
      });
      return reply.code(201).send(user);
    },
  );

  app.post(
    '/api/care-team',
    {
      ...auth,
      schema: {
        tags: ['admin'],
        summary: "Put a clinician on a patient's care team (admin)",
        body: CareTeamBody,
        response: { 204: Type.Null() },
      },
    },
    async (req, reply) => {
      const b = req.body as { clinicianId: string; patientId: string };
      await careTeams.link(actorOf(req), b.clinicianId, b.patientId, src);
      return reply.code(204).send();
    },
  );

  app.delete(
    '/api/care-team',
    {
      ...auth,
      schema: {
        tags: ['admin'],
        summary: 'Take a clinician off a care team (admin)',
        body: CareTeamBody,
        response: { 204: Type.Null() },
      },
    },
    async (req, reply) => {
      const b = req.body as { clinicianId: string; patientId: string };
      await careTeams.unlink(actorOf(req), b.clinicianId, b.patientId, src);
      return reply.code(204).send();
    },
  );
}
