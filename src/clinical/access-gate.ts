/**
 * Policy plus audit in one step, so no service can check access and forget to record it: `check`
 * asks the access policy and, on a denial, records it and throws 403; `record` appends the
 * successful access once the work is done.
 */
import type { AuditEvent, AuditLog } from '../audit/log.ts';
import type { AccessPolicy, Action, Actor, Decision, Resource } from '../auth/policy.ts';
import { forbidden } from '../errors.ts';

export interface AccessContext {
  source: string;
}

const ACTION_CODE: Record<Action, AuditEvent['action']> = {
  'patient:list': 'R',
  'patient:read': 'R',
  'patient:write': 'U',
  'clinical:read': 'R',
  'clinical:write': 'C',
  'clinical:import': 'C',
  'alarm:ack': 'U',
  'audit:read': 'R',
  'hl7:read': 'R',
  'access-log:read': 'R',
  'user:manage': 'U',
  'device:manage': 'U',
  'careteam:manage': 'U',
  'break-glass': 'E',
};

export class AccessGate {
  readonly policy: AccessPolicy;
  readonly audit: AuditLog;

  constructor(policy: AccessPolicy, audit: AuditLog) {
    this.policy = policy;
    this.audit = audit;
  }

  async check(actor: Actor, action: Action, resource: Resource, ctx: AccessContext): Promise<Decision> {
    const decision = await this.policy.decide(actor, action, resource);
    if (!decision.allow) {
      await this.audit.append({
        type: 'access.denied',
        action: ACTION_CODE[action],
        outcome: 4,
        agent: agentOf(actor),
        source: ctx.source,
        patientId: resource.type === 'patient' ? resource.patientId : undefined,
        detail: { requested: action, reason: decision.reason },
      });
      throw forbidden(decision.reason);
    }
    return decision;
  }

  async record(
    actor: Actor,
    action: Action,
    decision: Decision,
    ctx: AccessContext,
    what: {
      type: string;
      patientId?: string | undefined;
      entity?: { type: string; id: string };
      detail?: Record<string, unknown>;
    },
  ): Promise<void> {
    await this.audit.append({
      type: what.type,
      action: ACTION_CODE[action],
      outcome: 0,
      agent: agentOf(actor),
      source: ctx.source,
      patientId: what.patientId,
      entity: what.entity,
      purpose: decision.purpose,
      detail: decision.breakGlass ? { ...what.detail, breakGlass: true, flagged: true } : what.detail,
    });
  }
}

export function agentOf(actor: Actor): NonNullable<AuditEvent['agent']> {
  return { userId: actor.userId, username: actor.username, role: actor.role, address: actor.address };
}
