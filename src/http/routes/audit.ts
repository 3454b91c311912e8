/**
 * The auditor API. Everything here needs `audit:read` (auditors), and every call is itself
 * audited. Hashes are base64, as in C2SP checkpoints.
 *
 *   GET  /api/audit/events                 events, oldest first (filter by patient, user, type)
 *   GET  /api/audit/entries                entries by seq range and filter, with their exact bytes
 *   GET  /api/audit/head                   the committed tree size and root
 *   GET  /api/audit/checkpoint             the latest signed checkpoint and the log's public key
 *   GET  /api/audit/checkpoints            stored checkpoints by size
 *   GET  /api/audit/proof/inclusion        RFC 9162 inclusion proof (index, tree size)
 *   GET  /api/audit/proof/consistency      RFC 9162 consistency proof (old size, new size)
 *   GET  /api/audit/raw                    entry bytes [from, to), for independent verification
 *   GET  /api/audit/tree                   stored tree nodes of one level (remote verification)
 *   POST /api/audit/verify                 verify the whole log now (optionally against a saved checkpoint)
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { MAX_ENTRIES_PAGE } from '../../audit/log.ts';
import { b64 } from '../../audit/proof-json.ts';
import { storeSource, verifySource } from '../../audit/verify-store.ts';
import type { Decision } from '../../auth/policy.ts';
import { badRequest, notFound } from '../../errors.ts';
import { actorOf } from '../auth-hook.ts';
import type { HttpContext } from '../context.ts';

const src = { source: 'http' };
const Int = (o: { minimum?: number; maximum?: number } = {}) => Type.Integer({ minimum: 0, ...o });
const query = (props: Parameters<typeof Type.Object>[0]) =>
  Type.Object(props, { additionalProperties: false });

export function auditRoutes(app: FastifyInstance, ctx: HttpContext): void {
  const { gate, audit } = ctx.services;
  const auth = { onRequest: ctx.authenticate };

  /** Checks audit:read, runs `fn`, records the read with `detail`. */
  async function audited<T>(
    req: FastifyRequest,
    type: string,
    fn: (d: Decision) => Promise<{ result: T; detail: Record<string, unknown> }>,
  ): Promise<T> {
    const actor = actorOf(req);
    const decision = await gate.check(actor, 'audit:read', { type: 'system' }, src);
    const { result, detail } = await fn(decision);
    await gate.record(actor, 'audit:read', decision, src, { type, detail });
    return result;
  }

  const rangeError = (err: unknown): never => {
    if (err instanceof RangeError) throw badRequest(err.message);
    throw err;
  };

  app.get(
    '/api/audit/events',
    {
      ...auth,
      schema: {
        tags: ['audit'],
        summary: 'Audit events, oldest first (auditors)',
        querystring: query({
          patientId: Type.Optional(Type.String({ maxLength: 64 })),
          userId: Type.Optional(Type.String({ maxLength: 64 })),
          type: Type.Optional(Type.String({ maxLength: 64 })),
          after: Type.Optional(Int()),
          limit: Type.Optional(Int({ minimum: 1, maximum: 1000 })),
        }),
      },
    },
    async (req) => {
      const q = req.query as {
        patientId?: string;
        userId?: string;
        type?: string;
        after?: number;
        limit?: number;
      };
      return audited(req, 'audit.read', async () => {
        const events = await audit.query({ ...q, afterSeq: q.after });
        return { result: events, detail: { filter: q, count: events.length } };
      });
    },
  );

  app.get(
    '/api/audit/entries',
    {
      ...auth,
      schema: {
        tags: ['audit'],
        summary: 'Audit entries by seq range and filter, with the exact bytes each leaf hash commits to',
        querystring: query({
          from: Type.Optional(Int()),
          to: Type.Optional(Int()),
          patientId: Type.Optional(Type.String({ maxLength: 64 })),
          userId: Type.Optional(Type.String({ maxLength: 64 })),
          type: Type.Optional(Type.String({ maxLength: 64 })),
          outcome: Type.Optional(Type.Union([0, 4, 8, 12].map((n) => Type.Literal(n)))),
          since: Type.Optional(Type.String({ format: 'date-time' })),
          until: Type.Optional(Type.String({ format: 'date-time' })),
          order: Type.Optional(Type.Union([Type.Literal('asc'), Type.Literal('desc')])),
          limit: Type.Optional(Int({ minimum: 1, maximum: 1000 })),
        }),
      },
    },
    async (req) => {
      const q = req.query as Record<string, string | number | undefined>;
      return audited(req, 'audit.search', async () => {
        const list = await audit.entries({
          from: q.from as number | undefined,
          to: q.to as number | undefined,
          patientId: q.patientId as string | undefined,
          userId: q.userId as string | undefined,
          type: q.type as string | undefined,
          outcome: q.outcome as number | undefined,
          since: q.since ? Date.parse(q.since as string) : undefined,
          until: q.until ? Date.parse(q.until as string) : undefined,
          order: q.order as 'asc' | 'desc' | undefined,
          limit: (q.limit as number | undefined) ?? 100,
        });
        return {
          result: { entries: list.map((e) => ({ seq: e.seq, entry: e.entry, bytes: e.text })) },
          detail: { filter: q, count: list.length },
        };
      });
    },
  );

  app.get(
    '/api/audit/head',
    { ...auth, schema: { tags: ['audit'], summary: 'Committed tree size and root' } },
    async (req) =>
      audited(req, 'audit.head', async () => {
        const [head, leaves] = await Promise.all([audit.head(), audit.sqlLayer.treeSize(audit.sqlLayer.db)]);
        return { result: { size: head.size, leaves, root: b64(head.root) }, detail: { size: head.size } };
      }),
  );

  app.get(
    '/api/audit/checkpoint',
    {
      ...auth,
      schema: {
        tags: ['audit'],
        summary: "Latest signed checkpoint (C2SP tlog-checkpoint note) and the log's verifier key",
      },
    },
    async (req) =>
      audited(req, 'audit.checkpoint', async () => {
        const cp = await audit.checkpoint();
        if (!cp) throw notFound('no checkpoint yet: the log is empty');
        return {
          result: {
            origin: audit.origin,
            vkey: audit.vkey,
            size: cp.size,
            root: cp.root,
            note: cp.note,
            signedAt: new Date(cp.createdAt).toISOString(),
          },
          detail: { size: cp.size },
        };
      }),
  );

  app.get(
    '/api/audit/checkpoints',
    {
      ...auth,
      schema: {
        tags: ['audit'],
        summary: 'Stored checkpoints by size',
        querystring: query({
          after: Type.Optional(Type.Integer({ minimum: -1 })),
          limit: Type.Optional(Int({ minimum: 1, maximum: 1000 })),
        }),
      },
    },
    async (req) => {
      const q = req.query as { after?: number; limit?: number };
      return audited(req, 'audit.checkpoints', async () => {
        const list = await audit.checkpoints(q.after ?? -1, q.limit ?? 1000);
        return {
          result: { checkpoints: list.map((c) => ({ size: c.size, root: c.root, note: c.note })) },
          detail: { after: q.after, count: list.length },
        };
      });
    },
  );

  app.get(
    '/api/audit/proof/inclusion',
    {
      ...auth,
      schema: {
        tags: ['audit'],
        summary: 'Inclusion proof of entry `index` in the tree of `size` entries',
        querystring: query({ index: Int(), size: Int({ minimum: 1 }) }),
      },
    },
    async (req) => {
      const { index, size } = req.query as { index: number; size: number };
      return audited(req, 'audit.proof', async () => {
        const p = await audit.inclusionProof(index, size).catch(rangeError);
        return {
          result: { index, size, leafHash: b64(p.leafHash), proof: p.proof.map(b64), root: b64(p.root) },
          detail: { kind: 'inclusion', index, size },
        };
      });
    },
  );

  app.get(
    '/api/audit/proof/consistency',
    {
      ...auth,
      schema: {
        tags: ['audit'],
        summary: 'Consistency proof that the tree of `to` entries extends the tree of `from` entries',
        querystring: query({ from: Int(), to: Int() }),
      },
    },
    async (req) => {
      const { from, to } = req.query as { from: number; to: number };
      return audited(req, 'audit.proof', async () => {
        const p = await audit.consistencyProof(from, to).catch(rangeError);
        return {
          result: { from, to, proof: p.proof.map(b64), fromRoot: b64(p.fromRoot), toRoot: b64(p.toRoot) },
          detail: { kind: 'consistency', from, to },
        };
      });
    },
  );

  app.get(
    '/api/audit/raw',
    {
      ...auth,
      schema: {
        tags: ['audit'],
        summary: `Exact entry bytes (UTF-8 JSON text) of seq [from, to), at most ${MAX_ENTRIES_PAGE}`,
        querystring: query({ from: Int(), to: Int() }),
      },
    },
    async (req) => {
      const { from, to } = req.query as { from: number; to: number };
      if (to < from) throw badRequest('to must not be below from');
      return audited(req, 'audit.export', async () => {
        const entries = await audit.rawEntries(from, to);
        return { result: { from, entries }, detail: { from, to, count: entries.length } };
      });
    },
  );

  app.get(
    '/api/audit/tree',
    {
      ...auth,
      schema: {
        tags: ['audit'],
        summary: `Stored tree node hashes (level, [from, to)), at most ${MAX_ENTRIES_PAGE}; null where absent`,
        querystring: query({ level: Int({ maximum: 63 }), from: Int(), to: Int() }),
      },
    },
    async (req) => {
      const { level, from, to } = req.query as { level: number; from: number; to: number };
      if (to < from) throw badRequest('to must not be below from');
      return audited(req, 'audit.export', async () => {
        const hashes = await audit.treeNodes(level, from, to);
        return {
          result: { level, from, hashes: hashes.map((h) => (h ? b64(h) : null)) },
          detail: { tree: { level, from, to } },
        };
      });
    },
  );

  app.post(
    '/api/audit/verify',
    {
      ...auth,
      config: { rateLimit: { max: 6, timeWindow: '1 minute' } },
      schema: {
        tags: ['audit'],
        summary: 'Verify the whole log now: recompute the tree, check every checkpoint (and a saved one)',
        body: Type.Optional(
          Type.Object(
            { checkpoint: Type.Optional(Type.String({ maxLength: 16_384 })) },
            { additionalProperties: false },
          ),
        ),
      },
    },
    async (req) => {
      const trusted = (req.body as { checkpoint?: string } | undefined)?.checkpoint;
      return audited(req, 'audit.verify', async () => {
        if (!audit.vkey || !audit.origin) throw badRequest('this log signs no checkpoints');
        const t0 = performance.now();
        const { store } = ctx.services;
        const sqliteFile = store.engine === 'sqlite' ? store.location : undefined;
        const report = await verifySource(storeSource(audit.sqlLayer, { yieldEvery: 20_000, sqliteFile }), {
          keys: [audit.vkey],
          origin: audit.origin,
          trusted,
          maxProblems: 20,
        });
        const result = {
          ok: report.ok,
          size: report.size,
          root: b64(report.root),
          signedSize: report.signedSize,
          checkpoints: report.checkpoints.length,
          firstBad: report.firstBad ?? null,
          problems: report.problems,
          problemCount: report.problemCount,
          growth: report.growth ? { ...report.growth, proof: report.growth.proof.map(b64) } : null,
          ms: Math.round(performance.now() - t0),
        };
        return { result, detail: { ok: report.ok, size: report.size, problems: report.problemCount } };
      });
    },
  );
}
