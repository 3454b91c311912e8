/**
 * Domain errors shared by every gateway. Services throw these; the HTTP layer maps them to
 * application/problem+json with the status below, other gateways to their own refusal (NAK, …).
 */
export class AppError extends Error {
  readonly status: number;
  readonly code: string;
  readonly headers: Record<string, string>;
  constructor(status: number, code: string, message: string, headers: Record<string, string> = {}) {
    // These are answers, not bugs: no stack trace. Capturing one was 7 % of CPU when a flood of
    // requests with bad tokens was refused, which is exactly when the server must stay cheap.
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    super(message);
    Error.stackTraceLimit = limit;
    this.status = status;
    this.code = code;
    this.headers = headers;
  }
}

export const badRequest = (msg: string) => new AppError(400, 'bad-request', msg);
export const unauthorized = (msg = 'authentication required') => new AppError(401, 'unauthorized', msg);
export const forbidden = (msg: string) => new AppError(403, 'forbidden', msg);
export const notFound = (msg: string) => new AppError(404, 'not-found', msg);
export const conflict = (msg: string) => new AppError(409, 'conflict', msg);
export const tooManyRequests = (msg: string, retryAfterSec: number) =>
  new AppError(429, 'too-many-requests', msg, {
    'retry-after': String(Math.max(1, Math.ceil(retryAfterSec))),
  });
