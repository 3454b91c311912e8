/**
 * FHIR errors: every failure under /fhir/R4 is answered as an OperationOutcome with the HTTP status
 * FHIR clients expect (the rest of the API uses problem+json). Services throw AppErrors; FHIR code
 * may put an R4 IssueType in `AppError.code` (`not-supported`, `processing`, …) to be precise,
 * otherwise the issue type follows from the status.
 */
import type { OperationOutcome, OperationOutcomeIssue } from '@medplum/fhirtypes';
import type { FastifyReply } from 'fastify';
import { AppError } from '../errors.ts';
import { FHIR_CONTENT_TYPE } from './constants.ts';

type IssueType = OperationOutcomeIssue['code'];

const ISSUE_TYPES = new Set<string>([
  'invalid',
  'structure',
  'required',
  'value',
  'invariant',
  'security',
  'login',
  'unknown',
  'expired',
  'forbidden',
  'suppressed',
  'processing',
  'not-supported',
  'duplicate',
  'multiple-matches',
  'not-found',
  'deleted',
  'too-long',
  'code-invalid',
  'extension',
  'too-costly',
  'business-rule',
  'conflict',
  'transient',
  'lock-error',
  'no-store',
  'exception',
  'timeout',
  'incomplete',
  'throttled',
  'informational',
]);

function issueTypeFor(status: number, code: string): IssueType {
  if (ISSUE_TYPES.has(code)) return code as IssueType;
  switch (status) {
    case 401:
      return 'login';
    case 403:
      return 'forbidden';
    case 404:
      return 'not-found';
    case 405:
    case 406:
    case 415:
      return 'not-supported';
    case 409:
    case 412:
      return 'conflict';
    case 410:
      return 'deleted';
    case 413:
      return 'too-long';
    case 422:
      return 'processing';
    case 429:
      return 'throttled';
    default:
      return status >= 500 ? 'exception' : 'invalid';
  }
}

export function operationOutcome(status: number, code: string, detail: string): OperationOutcome {
  return {
    resourceType: 'OperationOutcome',
    issue: [
      { severity: status >= 500 ? 'fatal' : 'error', code: issueTypeFor(status, code), diagnostics: detail },
    ],
  };
}

/** Sends an error as an OperationOutcome (called by the server's one error handler for /fhir/ URLs). */
export function sendOperationOutcome(
  reply: FastifyReply,
  status: number,
  code: string,
  detail: string,
): FastifyReply {
  return reply
    .code(status)
    .type(FHIR_CONTENT_TYPE)
    .send(JSON.stringify(operationOutcome(status, code, detail)));
}

/** An error with a precise FHIR issue type. */
export function fhirError(status: number, issue: IssueType, message: string): AppError {
  return new AppError(status, issue, message);
}

export const invalid = (msg: string) => fhirError(400, 'invalid', msg);
export const notSupported = (msg: string) => fhirError(400, 'not-supported', msg);
export const unprocessable = (msg: string) => fhirError(422, 'processing', msg);
export const preconditionFailed = (msg: string) => fhirError(412, 'conflict', msg);
export const multipleMatches = (msg: string) => fhirError(412, 'multiple-matches', msg);
