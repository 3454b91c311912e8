/**
 * `carewire audit verify` and `carewire audit checkpoint`: the auditor's tools for the
 * tamper-evident log, against the local store (`--data`, `--database-url`) or a running server's
 * auditor API (`--server URL`, logging in as an auditor).
 *
 *   carewire audit checkpoint --data DIR > saved.cp     save today's signed tree head
 *   carewire audit verify --data DIR --checkpoint saved.cp
 *
 * Exit status: 0 intact, 1 tampered (the first bad index and what is wrong are printed),
 * 2 could not verify (bad arguments, unreachable store or server).
 */
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { loadConfig } from '../config.ts';
import { addConfigOptions } from './options.ts';

interface VerifyFlags extends Record<string, unknown> {
  server?: string;
  checkpoint?: string;
  key?: string;
  strict?: boolean;
  json?: boolean;
  user?: string;
  passwordStdin?: boolean;
  ca?: string;
}

class UsageError extends Error {}

async function remoteLogin(flags: VerifyFlags) {
  const { ApiClient } = await import('./api-client.ts');
  const { readPassword } = await import('./client.ts');
  if (!flags.user) throw new UsageError('--server needs --user (an auditor account)');
  const client = new ApiClient(flags.server!, { ca: flags.ca ? readFileSync(flags.ca) : undefined });
  const password = await readPassword(!!flags.passwordStdin);
  const me = await client.login(flags.user, password);
  if (me.role !== 'auditor')
    process.stderr.write(`carewire: note: ${me.username} is a ${me.role}, not an auditor\n`);
  return client;
}

async function verifyAction(flags: VerifyFlags): Promise<number> {
  const [{ verifySource, storeSource }, { reportText }, merkle] = await Promise.all([
    import('../audit/verify-store.ts'),
    import('../audit/report-text.ts'),
    import('../audit/merkle/index.ts'),
  ]);
  const trusted = flags.checkpoint ? readFileSync(flags.checkpoint, 'utf8') : undefined;
  let report: import('../audit/merkle/index.ts').LogVerifyReport;
  if (flags.server) {
    const { remoteSource } = await import('../audit/remote-source.ts');
    const client = await remoteLogin(flags);
    try {
      const info = (await client.get('/api/audit/checkpoint').catch(() => undefined)) as
        | { vkey?: string; origin?: string }
        | undefined;
      const vkey = flags.key ?? info?.vkey;
      if (!vkey) throw new UsageError('the server published no log key: pass --key');
      if (!flags.key)
        process.stderr.write(`carewire: trusting the server's log key ${vkey} (pin it with --key)\n`);
      report = await verifySource(
        remoteSource((p) => client.get(p)),
        { keys: [vkey], origin: merkle.parseVerifierKey(vkey).name, trusted, strict: flags.strict },
      );
    } finally {
      await client.logout();
      client.close();
    }
  } else {
    const config = loadConfig(flags);
    const [{ openStore }, { AuditSql }, { readLogVerifierKey }] = await Promise.all([
      import('../store/db.ts'),
      import('../audit/audit-sql.ts'),
      import('../audit/log-key.ts'),
    ]);
    const vkey = flags.key ?? readLogVerifierKey(config.dataDir);
    if (!vkey) throw new UsageError(`no audit-log key in ${config.dataDir}/keys: pass --key`);
    const store = await openStore({ dataDir: config.dataDir, databaseUrl: config.databaseUrl });
    try {
      // SQLite: entries are read and hashed on a second thread (not in strict mode, which parses each).
      const sqliteFile = store.engine === 'sqlite' && !flags.strict ? store.location : undefined;
      report = await verifySource(storeSource(new AuditSql(store.db, store.sqlite), { sqliteFile }), {
        keys: [vkey],
        origin: merkle.parseVerifierKey(vkey).name,
        trusted,
        strict: flags.strict,
      });
    } finally {
      await store.close();
    }
  }
  if (flags.json) {
    process.stdout.write(
      `${JSON.stringify(report, (_k, v) => (v instanceof Uint8Array ? merkle.toBase64(v) : v), 2)}\n`,
    );
  } else {
    process.stdout.write(reportText(report));
  }
  return report.ok ? 0 : 1;
}

async function checkpointAction(flags: VerifyFlags): Promise<number> {
  if (flags.server) {
    const client = await remoteLogin(flags);
    try {
      const cp = (await client.get('/api/audit/checkpoint')) as { note: string };
      process.stdout.write(cp.note);
    } finally {
      await client.logout();
      client.close();
    }
    return 0;
  }
  const config = loadConfig(flags);
  const [{ openStore }, { AuditLog }, { loadOrCreateLogKey }] = await Promise.all([
    import('../store/db.ts'),
    import('../audit/log.ts'),
    import('../audit/log-key.ts'),
  ]);
  const store = await openStore({ dataDir: config.dataDir, databaseUrl: config.databaseUrl });
  try {
    const log = new AuditLog(store, {
      maxDelayMs: 1,
      maxItems: 1,
      key: loadOrCreateLogKey(config.dataDir, config.publicUrl),
      checkpointMs: 0,
    });
    // Signs the current head when the log grew since the last checkpoint.
    const cp = await log.checkpoint();
    await log.close();
    if (!cp) {
      process.stderr.write('carewire: the audit log is empty: nothing to sign yet\n');
      return 1;
    }
    process.stdout.write(cp.note);
    return 0;
  } finally {
    await store.close();
  }
}

function withRemote(cmd: Command): Command {
  return cmd
    .option('--server <url>', "a running server's URL: use its auditor API instead of the local store")
    .option('--user <name>', 'auditor account for --server (password prompted, or --password-stdin)')
    .option('--password-stdin', 'read the password from standard input')
    .option('--ca <file>', 'PEM certificate to trust for --server (e.g. DATA/tls/cert.pem)');
}

function run(fn: (f: VerifyFlags) => Promise<number>) {
  return async (flags: VerifyFlags) => {
    try {
      process.exitCode = await fn(flags);
    } catch (err) {
      process.stderr.write(`carewire: ${(err as Error).message}\n`);
      process.exitCode = 2;
    }
  };
}

export function registerAudit(program: Command): void {
  const audit = program.command('audit').description('verify the tamper-evident audit log');
  addConfigOptions(
    withRemote(
      audit
        .command('verify')
        .description(
          'recompute the Merkle tree from the stored entries, check every signed checkpoint and, given a saved one, that the log only grew; exit 0 intact, 1 tampered, 2 error',
        )
        .option('--checkpoint <file>', 'a checkpoint saved earlier with `carewire audit checkpoint`')
        .option(
          '--key <vkey>',
          "the log's verifier key to trust (default: DATA/keys/audit-log.vkey, or the server's)",
        )
        .option('--strict', 'also parse and validate every entry (a data-quality audit; slower)')
        .option('--json', 'print the full report as JSON'),
    ),
  ).action(run(verifyAction));
  addConfigOptions(
    withRemote(
      audit
        .command('checkpoint')
        .description(
          'print the latest signed checkpoint (signing the current head first); save it to verify against later',
        ),
    ),
  ).action(run(checkpointAction));
}
