/**
 * Builds the service layer on an open store and bus: auth, the access policy, the audit log and the
 * clinical services. Gateways (HTTP, and later HL7, telemetry, sockets) receive this object and
 * call only these services.
 */
import { AuditLog } from './audit/log.ts';
import { loadOrCreateLogKey } from './audit/log-key.ts';
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
import { RecordService } from './clinical/records.ts';
import type { Config } from './config.ts';
import { Hl7MessageStore } from './hl7/message-store.ts';
import { AlarmService } from './monitoring/alarm-service.ts';
import { VitalsService } from './monitoring/vitals-service.ts';
import type { Store } from './store/db.ts';
import { loadOrCreateKek } from './telemetry/device-keys.ts';
import { DeviceRegistry } from './telemetry/device-registry.ts';

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
  /** Received HL7 messages and their ACKs, searched by admins (the gateway writes them). */
  hl7Messages: Hl7MessageStore;
  /** Manual records, versioned (records issue). */
  records: RecordService;
  /** Registered telemetry devices and their keys (telemetry issue). */
  devices: DeviceRegistry;
  /** Vital samples from devices: batched storage, bus, range and latest reads. */
  vitals: VitalsService;
  /** Alarm engine, NEWS2, alarm persistence and escalation. */
  alarms: AlarmService;
  /** Flushes pending group commits; called on graceful stop before the store closes. */
  flush(): Promise<void>;
  close(): Promise<void>;
}

export interface ServiceOptions {
  /**
   * Commit audit and alarm batches on the store's writer thread (SQLite). Servers do; a one-shot
   * command that appends a few entries would only pay for starting the thread.
   */
  writerThread?: boolean;
}

export async function createServices(
  config: Config,
  store: Store,
  bus: Bus,
  opts: ServiceOptions = {},
): Promise<Services> {
  const { db } = store;
  const audit = new AuditLog(store, {
    maxDelayMs: config.groupCommitMs,
    maxItems: config.groupCommitMax,
    writerThread: opts.writerThread,
    key: loadOrCreateLogKey(config.dataDir, config.publicUrl),
    checkpointMs: config.auditCheckpointMs,
  });
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
  const devices = new DeviceRegistry(db, loadOrCreateKek(config.dataDir), audit);
  await devices.load();
  const alarms = new AlarmService(
    {
      db,
      bus,
      gate,
      audit,
      observations: new ObservationService(db, gate),
      writer: opts.writerThread ? store.writer() : undefined,
      sqlite: store.sqlite,
    },
    { groupCommitMs: config.groupCommitMs, groupCommitMax: config.groupCommitMax },
  );
  await alarms.start();
  const vitals = new VitalsService(
    { store, bus, gate },
    { onSample: (patientId, values, at) => alarms.observeVitals(patientId, values, at) },
  );
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
    hl7Messages: new Hl7MessageStore(db, gate),
    records: new RecordService(db, gate, new ObservationService(db, gate)),
    devices,
    vitals,
    alarms,
    flush: async () => {
      await vitals.flush();
      await alarms.flush();
      await audit.flush();
    },
    async close() {
      await vitals.close();
      await alarms.close();
      await audit.close();
      await bus.close();
    },
  };
}
