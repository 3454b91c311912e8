/** Prometheus metrics for /metrics: process defaults plus HTTP request counts and latencies. */
import type { FastifyInstance } from 'fastify';
import { Counter, collectDefaultMetrics, Histogram, Registry } from 'prom-client';

export function createRegistry(): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ service: 'carewire' });
  collectDefaultMetrics({ register: registry });
  return registry;
}

export function instrumentHttp(app: FastifyInstance, registry: Registry): void {
  const duration = new Histogram({
    name: 'carewire_http_request_duration_seconds',
    help: 'HTTP request latency by route and status',
    labelNames: ['method', 'route', 'status'],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  });
  const denied = new Counter({
    name: 'carewire_http_denied_total',
    help: 'Requests refused with 401, 403 or 429',
    labelNames: ['status'],
    registers: [registry],
  });
  app.addHook('onResponse', async (req, reply) => {
    // The route pattern, not the URL, keeps label cardinality bounded (ids stay out of labels).
    const route = req.routeOptions.url ?? 'unmatched';
    const status = reply.statusCode;
    duration.observe({ method: req.method, route, status: String(status) }, reply.elapsedTime / 1000);
    if (status === 401 || status === 403 || status === 429) denied.inc({ status: String(status) });
  });
}
