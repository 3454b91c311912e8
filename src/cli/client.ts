/**
 * `carewire client --server URL [--ca FILE]`: the terminal client for patients, clinicians and
 * auditors. It asks for a username and a password (not echoed), then offers a menu by role:
 *
 *   patient    my records · add a temperature · add a blood pressure · who accessed my record
 *   clinician  my patients · a patient's records · add a reading for a patient
 *   auditor    search the audit log · verify integrity · export the log · latest checkpoint
 *
 * Over https it speaks TLS 1.3 only and, with --ca, trusts exactly that certificate (the one the
 * server's --tls generated into DATA/tls/cert.pem). docs/client.md says why TLS 1.3 replaces the
 * hand-made RSA + AES channel of the older audit seed.
 *
 * Input is read line by line through node:readline's async iterator, which buffers lines, so the
 * client works the same from a terminal and from a pipe (as the tests drive it).
 */
import { createWriteStream, readFileSync } from 'node:fs';
import readline from 'node:readline';
import { Writable } from 'node:stream';
import { text } from 'node:stream/consumers';
import type { Command } from 'commander';
import type { ApiClient, Me } from './api-client.ts';

/** Reads a password: from stdin when asked to, else a hidden prompt on the terminal. */
export async function readPassword(fromStdin: boolean): Promise<string> {
  if (fromStdin || !process.stdin.isTTY) return (await text(process.stdin)).replace(/\r?\n$/, '');
  const io = new Prompter(process.stdin, process.stdout);
  try {
    return await io.secret('Password: ');
  } finally {
    io.close();
  }
}

/** Line prompts over a readline interface; `secret` hides what is typed on a terminal. */
export class Prompter {
  readonly #rl: readline.Interface;
  readonly #lines: AsyncIterator<string>;
  readonly #out: NodeJS.WritableStream;
  #muted = false;
  #ended = false;

  constructor(input: NodeJS.ReadableStream, out: NodeJS.WritableStream) {
    this.#out = out;
    const terminal = (input as { isTTY?: boolean }).isTTY === true;
    // Echo goes through this stream so a password can be typed without showing it.
    const echo = new Writable({
      write: (chunk, _enc, cb) => {
        if (!this.#muted) out.write(chunk);
        cb();
      },
    });
    this.#rl = readline.createInterface({ input, output: echo, terminal });
    this.#rl.on('close', () => {
      this.#ended = true;
    });
    this.#lines = this.#rl[Symbol.asyncIterator]();
  }

  say(s = ''): void {
    this.#out.write(`${s}\n`);
  }

  async ask(question: string): Promise<string | undefined> {
    this.#out.write(question);
    const r = await this.#lines.next();
    if (r.done) {
      this.#ended = true;
      return undefined;
    }
    return r.value.trim();
  }

  async secret(question: string): Promise<string> {
    this.#out.write(question);
    this.#muted = true;
    try {
      const r = await this.#lines.next();
      return r.done ? '' : r.value;
    } finally {
      this.#muted = false;
      this.#out.write('\n');
    }
  }

  get ended(): boolean {
    return this.#ended;
  }

  close(): void {
    this.#rl.close();
  }
}

interface Rec {
  id: string;
  version: number;
  kind: string;
  value: number | null;
  systolic: number | null;
  diastolic: number | null;
  unit: string | null;
  text: string | null;
  effectiveAt: string;
  author: { name: string; role: string };
}

/** Strips control characters from server text before it reaches the terminal (escape injection). */
// biome-ignore lint/suspicious/noControlCharactersInRegex: removing control characters is the point
const clean = (s: unknown): string => String(s ?? '').replace(/[\u0000-\u001f\u007f-\u009f]/g, '?');

function describe(r: Rec): string {
  const v =
    r.kind === 'blood-pressure'
      ? `${r.systolic}/${r.diastolic} mm[Hg]`
      : r.kind === 'note'
        ? clean(r.text).slice(0, 60)
        : `${r.value} ${r.unit}`;
  const ver = r.version > 1 ? ` (v${r.version})` : '';
  return `${r.effectiveAt.slice(0, 16).replace('T', ' ')}  ${r.kind.padEnd(14)} ${v}${ver}  by ${clean(r.author.name)} (${clean(r.author.role)})`;
}

function num(s: string | undefined): number | undefined {
  if (s === undefined || s === '') return undefined;
  const n = Number(s.replace(',', '.'));
  return Number.isFinite(n) ? n : undefined;
}

class Session {
  readonly io: Prompter;
  readonly api: ApiClient;
  readonly me: Me;
  constructor(io: Prompter, api: ApiClient, me: Me) {
    this.io = io;
    this.api = api;
    this.me = me;
  }

  async showRecords(patientId: string): Promise<void> {
    const list = (await this.api.get(`/api/patients/${encodeURIComponent(patientId)}/records`)) as Rec[];
    if (list.length === 0) this.io.say('No records yet.');
    for (const r of list) this.io.say(`  ${describe(r)}`);
  }

  async addReading(patientId: string, kind: 'temperature' | 'blood-pressure'): Promise<void> {
    let body: Record<string, unknown>;
    if (kind === 'temperature') {
      const v = num(await this.io.ask('Temperature (°C): '));
      if (v === undefined) return this.io.say('Not a number; nothing saved.');
      body = { kind, value: v };
    } else {
      const s = num(await this.io.ask('Systolic (mm Hg): '));
      const d = num(await this.io.ask('Diastolic (mm Hg): '));
      if (s === undefined || d === undefined) return this.io.say('Not a number; nothing saved.');
      body = { kind, systolic: s, diastolic: d };
    }
    const r = (await this.api.request(
      'POST',
      `/api/patients/${encodeURIComponent(patientId)}/records`,
      body,
    )) as Rec;
    this.io.say(`Saved: ${describe(r)}`);
  }

  async accessLog(patientId: string): Promise<void> {
    const list = (await this.api.get(
      `/api/patients/${encodeURIComponent(patientId)}/access-log?limit=50`,
    )) as Array<{
      recorded: string;
      type: string;
      outcome: number;
      who: { username: string | null; role: string | null };
      purpose: string | null;
      breakGlass: boolean;
    }>;
    if (list.length === 0) this.io.say('Nobody has accessed your record yet.');
    for (const e of list) {
      const who = `${clean(e.who.username ?? 'system')} (${clean(e.who.role ?? '-')})`;
      const flags = `${e.outcome === 0 ? '' : ' DENIED'}${e.breakGlass ? ' BREAK-THE-GLASS' : ''}`;
      this.io.say(
        `  ${e.recorded.slice(0, 19).replace('T', ' ')}  ${who.padEnd(28)} ${clean(e.type)}${flags}`,
      );
    }
  }

  async searchAudit(): Promise<void> {
    const params = new URLSearchParams({ order: 'desc', limit: '50' });
    const patientId = await this.io.ask('Patient id (blank for any): ');
    const userId = await this.io.ask('User id (blank for any): ');
    const type = await this.io.ask('Event type, e.g. patient.read (blank for any): ');
    if (patientId) params.set('patientId', patientId);
    if (userId) params.set('userId', userId);
    if (type) params.set('type', type);
    const r = (await this.api.get(`/api/audit/entries?${params}`)) as {
      entries: Array<{ seq: number; entry: import('../audit/merkle/index.ts').AuditEntry }>;
    };
    if (r.entries.length === 0) this.io.say('No matching entries.');
    for (const { seq, entry: e } of r.entries) {
      const who = `${clean(e.agent.username ?? 'system')} (${clean(e.agent.role ?? '-')})`;
      this.io.say(
        `  #${seq}  ${e.recorded.slice(0, 19).replace('T', ' ')}  ${who.padEnd(26)} ${clean(e.type).padEnd(18)} outcome ${e.outcome}${e.entity?.patientId ? `  patient ${clean(e.entity.patientId)}` : ''}`,
      );
    }
  }

  async verify(): Promise<void> {
    const [{ remoteSource }, { verifySource }, { reportText }, { parseVerifierKey }] = await Promise.all([
      import('../audit/remote-source.ts'),
      import('../audit/verify-store.ts'),
      import('../audit/report-text.ts'),
      import('../audit/merkle/index.ts'),
    ]);
    const cp = (await this.api.get('/api/audit/checkpoint')) as { vkey: string; size: number };
    const saved = await this.io.ask('Saved checkpoint file to check against (blank for none): ');
    const trusted = saved ? readFileSync(saved, 'utf8') : undefined;
    this.io.say(`Verifying ${cp.size}+ entries against log key ${cp.vkey} …`);
    const report = await verifySource(
      remoteSource((p) => this.api.get(p)),
      { keys: [cp.vkey], origin: parseVerifierKey(cp.vkey).name, trusted },
    );
    this.io.say(reportText(report).trimEnd());
  }

  async exportLog(): Promise<void> {
    const file = (await this.io.ask('Export to file [audit-export.jsonl]: ')) || 'audit-export.jsonl';
    const head = (await this.api.get('/api/audit/head')) as { size: number };
    const out = createWriteStream(file, { flags: 'wx', mode: 0o600 });
    let n = 0;
    for (let from = 0; from < head.size; from += 10_000) {
      const r = (await this.api.get(
        `/api/audit/raw?from=${from}&to=${Math.min(head.size, from + 10_000)}`,
      )) as {
        entries: string[];
      };
      for (const e of r.entries) out.write(`${e}\n`);
      n += r.entries.length;
    }
    const cp = (await this.api.get('/api/audit/checkpoint')) as { note: string };
    await new Promise<void>((resolve, reject) =>
      out.end((err?: Error | null) => (err ? reject(err) : resolve())),
    );
    const cpFile = `${file}.checkpoint`;
    createWriteStream(cpFile, { flags: 'w', mode: 0o644 }).end(cp.note);
    this.io.say(
      `Wrote ${n} entries (one canonical JSON entry per line) to ${file}, checkpoint to ${cpFile}.`,
    );
  }

  async checkpoint(): Promise<void> {
    const cp = (await this.api.get('/api/audit/checkpoint')) as {
      note: string;
      signedAt: string;
      size: number;
    };
    this.io.say(`Latest checkpoint (${cp.size} entries, signed ${cp.signedAt}):`);
    this.io.say(cp.note.trimEnd());
  }

  async pickPatient(): Promise<string | undefined> {
    const list = (await this.api.get('/api/patients')) as Array<{
      id: string;
      name: string;
      bed: string | null;
      mrn: string;
    }>;
    if (list.length === 0) {
      this.io.say('No patients to show.');
      return undefined;
    }
    list.forEach((p, i) => {
      this.io.say(
        `  ${String(i + 1).padStart(2)}) ${clean(p.name).padEnd(24)} ${clean(p.mrn).padEnd(10)} bed ${clean(p.bed ?? '-')}`,
      );
    });
    const n = num(await this.io.ask('Patient number: '));
    const p = n === undefined ? undefined : list[n - 1];
    if (!p) this.io.say('No such patient.');
    return p?.id;
  }

  menu(): Array<[string, () => Promise<void>]> {
    const pid = this.me.patientId;
    switch (this.me.role) {
      case 'patient':
        if (!pid) return [];
        return [
          ['My records', () => this.showRecords(pid)],
          ['Add a temperature reading', () => this.addReading(pid, 'temperature')],
          ['Add a blood-pressure reading', () => this.addReading(pid, 'blood-pressure')],
          ['Who accessed my record', () => this.accessLog(pid)],
        ];
      case 'clinician':
        return [
          ['My patients', async () => void (await this.pickPatientList())],
          ["A patient's records", async () => void (await this.withPatient((id) => this.showRecords(id)))],
          [
            'Add a temperature reading',
            async () => void (await this.withPatient((id) => this.addReading(id, 'temperature'))),
          ],
          [
            'Add a blood-pressure reading',
            async () => void (await this.withPatient((id) => this.addReading(id, 'blood-pressure'))),
          ],
        ];
      case 'auditor':
        return [
          ['Search the audit log', () => this.searchAudit()],
          ['Verify integrity', () => this.verify()],
          ['Export the audit log', () => this.exportLog()],
          ['Latest checkpoint', () => this.checkpoint()],
        ];
      default:
        return [];
    }
  }

  async pickPatientList(): Promise<void> {
    const list = (await this.api.get('/api/patients')) as Array<{
      name: string;
      bed: string | null;
      mrn: string;
    }>;
    for (const p of list)
      this.io.say(`  ${clean(p.name).padEnd(24)} ${clean(p.mrn).padEnd(10)} bed ${clean(p.bed ?? '-')}`);
  }

  async withPatient(fn: (id: string) => Promise<void>): Promise<void> {
    const id = await this.pickPatient();
    if (id) await fn(id);
  }
}

export async function runClient(opts: {
  server: string;
  ca?: string | undefined;
  input?: NodeJS.ReadableStream;
  output?: NodeJS.WritableStream;
}): Promise<number> {
  const { ApiClient, ApiError } = await import('./api-client.ts');
  const io = new Prompter(opts.input ?? process.stdin, opts.output ?? process.stdout);
  const ca = opts.ca ? readFileSync(opts.ca) : undefined;
  const api = new ApiClient(opts.server, { ca });
  try {
    io.say(`CareWire client — ${api.base.origin}${api.base.protocol === 'https:' ? ' (TLS 1.3)' : ''}`);
    let me: Me | undefined;
    for (let attempt = 0; attempt < 3 && !me; attempt++) {
      const username = await io.ask('Username: ');
      if (username === undefined) return 1;
      const password = await io.secret('Password: ');
      try {
        me = await api.login(username, password);
      } catch (err) {
        if (err instanceof ApiError && err.status === 401) io.say(`Sign-in failed: ${err.message}`);
        else throw err;
      }
    }
    if (!me) {
      io.say('Too many failed attempts.');
      return 1;
    }
    io.say(
      `Signed in as ${clean(me.username)} (${me.role})${api.tlsProtocol ? ` over ${api.tlsProtocol}` : ''}.`,
    );
    const session = new Session(io, api, me);
    const items = session.menu();
    if (items.length === 0)
      io.say(`There is nothing for the ${me.role} role in this client; use the web app.`);
    for (;;) {
      io.say('');
      items.forEach(([label], i) => {
        io.say(`  ${i + 1}) ${label}`);
      });
      io.say('  q) Quit');
      const choice = await io.ask('> ');
      if (choice === undefined || choice === 'q' || choice === 'quit') break;
      const item = items[Number(choice) - 1];
      if (!item) {
        io.say(`Choose 1–${items.length} or q.`);
        continue;
      }
      try {
        await item[1]();
      } catch (err) {
        if (err instanceof ApiError) io.say(`Refused (${err.status}): ${clean(err.message)}`);
        else io.say(`Error: ${clean((err as Error).message)}`);
      }
    }
    await api.logout();
    io.say('Signed out.');
    return 0;
  } finally {
    api.close();
    io.close();
  }
}

export function registerClient(program: Command): void {
  program
    .command('client')
    .description('interactive terminal client: sign in, then a menu by role (patient, clinician, auditor)')
    .requiredOption('--server <url>', 'the server, e.g. https://carewire.example:8080')
    .option('--ca <file>', 'PEM certificate to trust (the server’s self-signed DATA/tls/cert.pem)')
    .action(async (flags: { server: string; ca?: string }) => {
      try {
        process.exitCode = await runClient(flags);
      } catch (err) {
        const e = err as NodeJS.ErrnoException;
        const hint =
          e.code === 'SELF_SIGNED_CERT_IN_CHAIN' || e.code === 'DEPTH_ZERO_SELF_SIGNED_CERT'
            ? ' (pass --ca DATA/tls/cert.pem to trust the server’s self-signed certificate)'
            : '';
        process.stderr.write(`carewire client: ${e.message}${hint}\n`);
        process.exitCode = 2;
      }
    });
}
