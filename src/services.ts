/**
 * Builds the service layer on an open store and bus: auth, the access policy, the audit log and the
 * clinical services. Gateways (HTTP, and later HL7, telemetry, sockets) receive this object and
 * call only these services.
 */
import { AuditLog } from './audit/log.ts';
import { AuthService } from './auth/auth-service.ts';
import { loadOrCreateEd25519 } from './auth/keys.ts';
import { LoginGuard } from './auth/login-guard.ts';
import { AccessPolicy } from './auth/policy.ts';
import { SessionService } from './auth/sessions.ts';
import { TokenService } from './auth/tokens.ts';
import { UserService } from './auth/users.ts';
import type { Bus } from './bus/bus.ts';
import { AccessGate } from './clinical/access-gate.ts';
import { CareTeamService } from './clinical/care-teams.ts';
import { ObservationService } from './clinical/observations.ts';
import { PatientService } from './clinical/patients.ts';
import type { Config } from './config.ts';
import type { Store } from './store/db.ts';

export interface Services {
  store: Store;
  bus: Bus;
  audit: AuditLog;
  policy: AccessPolicy;
  gate: AccessGate;
  users: UserService;
  sessions: SessionService;
  tokens: TokenService;
  auth: AuthService;
  patients: PatientService;
  observations: ObservationService;
  careTeams: CareTeamService;
  /** Flushes pending group commits; called on graceful stop before the store closes. */
  flush(): Promise<void>;
  close(): Promise<void>;
}

export async function createServices(config: Config, store: Store, bus: Bus): Promise<Services> {
  const { db } = store;
  const audit = new AuditLog(db, { maxDelayMs: config.groupCommitMs, maxItems: config.groupCommitMax });
  const policy = new AccessPolicy(db, { breakGlassTtlSec: config.breakGlassTtl });
  const gate = new AccessGate(policy, audit);
  const users = new UserService(db);
  const sessions = new SessionService(db, config.refreshTokenTtl, bus);
  await sessions.listen();
  const tokens = new TokenService({
    key: loadOrCreateEd25519(config.dataDir, 'token-signing-ed25519'),
    issuer: config.publicUrl ?? 'carewire',
    audience: 'carewire-api',
    ttlSec: config.accessTokenTtl,
  });
  const auth = new AuthService({ users, sessions, tokens, guard: new LoginGuard(), audit });
  return {
    store,
    bus,
    audit,
    policy,
    gate,
    users,
    sessions,
    tokens,
    auth,
    patients: new PatientService(db, gate),
    observations: new ObservationService(db, gate),
    careTeams: new CareTeamService(db, gate),
    flush: () => audit.flush(),
    async close() {
      await audit.close();
      await bus.close();
    },
  };
}
