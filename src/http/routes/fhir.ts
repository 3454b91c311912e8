/**
 * The FHIR R4 REST API under /fhir/R4 (JSON, application/fhir+json). Handlers live in src/fhir/;
 * this file only maps HTTP to them. Errors are answered as OperationOutcome by the server's error
 * handler (it chooses the shape by URL prefix).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { AppError } from '../../errors.ts';
import { AuditEventApi } from '../../fhir/audit-api.ts';
import { capabilityStatement } from '../../fhir/capability.ts';
import { FHIR_CONTENT_TYPE, FHIR_PREFIX } from '../../fhir/constants.ts';
import { FlagApi } from '../../fhir/flag-api.ts';
import { ObservationApi } from '../../fhir/observation-api.ts';
import { PatientApi } from '../../fhir/patient-api.ts';
import { FhirReader } from '../../fhir/reader.ts';
import { type FhirResponse, WriteApi } from '../../fhir/write-api.ts';
import { actorOf } from '../auth-hook.ts';
import type { HttpContext } from '../context.ts';

const VERSION = (
  JSON.parse(readFileSync(path.resolve(import.meta.dirname, '../../../package.json'), 'utf8')) as {
    version: string;
  }
).version;

const idOf = (req: FastifyRequest) => (req.params as { id: string }).id;

function rawQuery(req: FastifyRequest): string {
  const i = req.url.indexOf('?');
  return i < 0 ? '' : req.url.slice(i + 1);
}

function header(req: FastifyRequest, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/** Sends a resource as application/fhir+json (Fastify serialises it: the type contains "json"). */
function fhir<T>(reply: FastifyReply, body: T): T {
  reply.type(FHIR_CONTENT_TYPE);
  return body;
}

function sendWrite(req: FastifyRequest, reply: FastifyReply, r: FhirResponse): FastifyReply {
  reply.code(r.status).headers(r.headers).type(FHIR_CONTENT_TYPE);
  const minimal = /return=minimal/.test(header(req, 'prefer') ?? '');
  return r.body && !minimal ? reply.send(r.body) : reply.send('');
}

export function fhirRoutes(app: FastifyInstance, ctx: HttpContext): void {
  const s = ctx.services;
  // Hot reads go through their own connection on SQLite (see src/fhir/reader.ts).
  const reader = new FhirReader(s.store);
  app.addHook('onClose', async () => reader.close());
  const patients = new PatientApi(s, reader);
  const observations = new ObservationApi(s, reader);
  const flags = new FlagApi(s);
  const audits = new AuditEventApi(s);
  const writes = new WriteApi(s);
  const started = new Date().toISOString();
  const auth = { onRequest: ctx.authenticate, schema: { hide: true } };
  const baseOf = (req: FastifyRequest) =>
    `${ctx.config.publicUrl ? ctx.config.publicUrl.replace(/\/$/, '') : `${req.protocol}://${req.host}`}${FHIR_PREFIX}`;

  app.register(
    async (f) => {
      // FHIR clients send application/fhir+json (sometimes with fhirVersion=4.0); plain JSON works too.
      f.addContentTypeParser(
        ['application/fhir+json', 'application/json+fhir'],
        { parseAs: 'string' },
        (_req: FastifyRequest, body: string | Buffer, done: (err: Error | null, body?: unknown) => void) => {
          try {
            done(null, body.length === 0 ? undefined : JSON.parse(body.toString()));
          } catch (err) {
            done(new AppError(400, 'structure', `the body is not valid JSON: ${(err as Error).message}`));
          }
        },
      );

      // Public, like every FHIR server's: it describes the API, not patients.
      f.get('/metadata', { schema: { hide: true } }, async (req, reply) =>
        fhir(reply, capabilityStatement(baseOf(req), VERSION, started)),
      );

      f.get('/Patient/:id', auth, async (req, reply) => {
        const p = await patients.read(actorOf(req), idOf(req));
        reply.header('etag', `W/"${p.meta?.versionId}"`);
        if (p.meta?.lastUpdated) reply.header('last-modified', new Date(p.meta.lastUpdated).toUTCString());
        return fhir(reply, p);
      });
      f.get('/Patient', auth, async (req, reply) =>
        fhir(reply, await patients.search(actorOf(req), rawQuery(req), baseOf(req))),
      );
      f.post('/Patient', auth, async (req, reply) =>
        sendWrite(
          req,
          reply,
          await writes.createPatient(actorOf(req), req.body, header(req, 'if-none-exist'), baseOf(req)),
        ),
      );
      f.put('/Patient/:id', auth, async (req, reply) =>
        sendWrite(
          req,
          reply,
          await writes.updatePatient(actorOf(req), idOf(req), req.body, header(req, 'if-match'), baseOf(req)),
        ),
      );

      f.get('/Observation/:id', auth, async (req, reply) =>
        fhir(reply, await observations.read(actorOf(req), idOf(req))),
      );
      f.get('/Observation', auth, async (req, reply) =>
        fhir(reply, await observations.search(actorOf(req), rawQuery(req), baseOf(req))),
      );
      f.post('/Observation', auth, async (req, reply) =>
        sendWrite(
          req,
          reply,
          await writes.createObservation(actorOf(req), req.body, header(req, 'if-none-exist'), baseOf(req)),
        ),
      );

      f.get('/Flag/:id', auth, async (req, reply) => fhir(reply, await flags.read(actorOf(req), idOf(req))));
      f.get('/Flag', auth, async (req, reply) =>
        fhir(reply, await flags.search(actorOf(req), rawQuery(req), baseOf(req))),
      );

      f.get('/AuditEvent/:id', auth, async (req, reply) =>
        fhir(reply, await audits.read(actorOf(req), idOf(req))),
      );
      f.get('/AuditEvent', auth, async (req, reply) =>
        fhir(reply, await audits.search(actorOf(req), rawQuery(req), baseOf(req))),
      );

      f.post('/', auth, async (req, reply) => fhir(reply, await writes.bundle(actorOf(req), req.body)));
    },
    { prefix: FHIR_PREFIX },
  );
}
