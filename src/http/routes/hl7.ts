/** HL7 message store search for admins (interface troubleshooting); audited. */
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { HL7_PAGE_MAX } from '../../hl7/message-store.ts';
import { actorOf } from '../auth-hook.ts';
import type { HttpContext } from '../context.ts';
import { Nullable } from './schemas.ts';

const src = { source: 'http' };

const MessageSchema = Type.Object({
  id: Type.Integer(),
  controlId: Type.String(),
  sendingApplication: Type.String(),
  sendingFacility: Type.String(),
  type: Type.String(),
  trigger: Type.String(),
  version: Type.String(),
  receivedAt: Type.Integer({ description: 'milliseconds since the epoch' }),
  ackCode: Type.String({ description: 'AA, AE or AR' }),
  patientId: Nullable(Type.String()),
  error: Nullable(Type.String()),
  raw: Type.String({ description: 'the message as received (CR between segments)' }),
  acks: Type.Array(Type.String(), { description: 'acknowledgements sent, in order' }),
});

export function hl7Routes(app: FastifyInstance, ctx: HttpContext): void {
  app.get(
    '/api/hl7/messages',
    {
      onRequest: ctx.authenticate,
      schema: {
        tags: ['hl7', 'admin'],
        summary: 'Received HL7 messages with their ACKs, newest first (admins)',
        querystring: Type.Object(
          {
            type: Type.Optional(Type.String({ maxLength: 16, description: 'MSH-9.1, e.g. ORU' })),
            trigger: Type.Optional(Type.String({ maxLength: 16, description: 'MSH-9.2, e.g. R01' })),
            patient: Type.Optional(Type.String({ maxLength: 64, description: 'patient id' })),
            controlId: Type.Optional(Type.String({ maxLength: 199, description: 'MSH-10' })),
            ackCode: Type.Optional(Type.Union([Type.Literal('AA'), Type.Literal('AE'), Type.Literal('AR')])),
            from: Type.Optional(Type.String({ format: 'date-time' })),
            to: Type.Optional(Type.String({ format: 'date-time' })),
            before: Type.Optional(Type.Integer({ minimum: 1, description: '`next` of the previous page' })),
            limit: Type.Optional(Type.Integer({ minimum: 1, maximum: HL7_PAGE_MAX })),
          },
          { additionalProperties: false },
        ),
        response: { 200: Type.Object({ items: Type.Array(MessageSchema), next: Nullable(Type.Integer()) }) },
      },
    },
    async (req) => {
      const q = req.query as {
        type?: string;
        trigger?: string;
        patient?: string;
        controlId?: string;
        ackCode?: string;
        from?: string;
        to?: string;
        before?: number;
        limit?: number;
      };
      return ctx.services.hl7Messages.search(
        actorOf(req),
        {
          type: q.type,
          trigger: q.trigger,
          patientId: q.patient,
          controlId: q.controlId,
          ackCode: q.ackCode,
          from: q.from ? Date.parse(q.from) : undefined,
          to: q.to ? Date.parse(q.to) : undefined,
          before: q.before,
          limit: q.limit,
        },
        src,
      );
    },
  );
}
