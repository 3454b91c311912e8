/**
 * `carewire user add|passwd|list`: account management on the local store, for the operator of the
 * machine (who can read the data folder anyway). Each change is audited with source `cli`.
 */
import { randomBytes } from 'node:crypto';
import { text } from 'node:stream/consumers';
import type { Command } from 'commander';
import { ROLES } from '../auth/tokens.ts';
import type { Role } from '../store/schema.ts';
import { withServices } from './local-services.ts';
import { addConfigOptions } from './options.ts';

async function passwordFrom(opts: {
  password?: string;
  passwordStdin?: boolean;
}): Promise<{ pw: string; generated: boolean }> {
  if (opts.password) return { pw: opts.password, generated: false };
  if (opts.passwordStdin) return { pw: (await text(process.stdin)).replace(/\r?\n$/, ''), generated: false };
  return { pw: randomBytes(12).toString('base64url'), generated: true };
}

const cliAgent = { username: process.env.USER ?? 'operator', role: 'operator', address: 'local' };

export function registerUsers(program: Command): void {
  const user = program.command('user').description('manage user accounts in the local store');

  addConfigOptions(
    user
      .command('add <username>')
      .description('create an account (prints a generated password unless one is given)')
      .requiredOption('--role <role>', `one of ${ROLES.join(', ')}`)
      .option('--password <password>', 'the password (visible in shell history: prefer --password-stdin)')
      .option('--password-stdin', 'read the password from standard input')
      .option('--patient <id>', 'for role patient: the patient record this account belongs to')
      .option('--display-name <name>', 'name shown in the app'),
  ).action(async (username: string, flags: Record<string, unknown>) => {
    await withServices(flags, async (s) => {
      const { pw, generated } = await passwordFrom(flags);
      const u = await s.users.create({
        username,
        password: pw,
        role: flags.role as Role,
        displayName: flags.displayName as string | undefined,
        patientId: flags.patient as string | undefined,
      });
      await s.audit.append({
        type: 'user.create',
        action: 'C',
        outcome: 0,
        agent: cliAgent,
        source: 'cli',
        entity: { type: 'User', id: u.id },
        detail: { username: u.username, role: u.role },
      });
      process.stdout.write(
        `created ${u.role} ${u.username} (${u.id})${generated ? `\npassword: ${pw}` : ''}\n`,
      );
    });
  });

  addConfigOptions(
    user
      .command('passwd <username>')
      .description("set a new password (generated and printed unless given); ends the user's sessions")
      .option('--password <password>', 'the new password')
      .option('--password-stdin', 'read the new password from standard input'),
  ).action(async (username: string, flags: Record<string, unknown>) => {
    await withServices(flags, async (s) => {
      const { pw, generated } = await passwordFrom(flags);
      const u = await s.users.setPassword(username, pw);
      await s.sessions.revokeAllForUser(u.id, 'password changed');
      await s.audit.append({
        type: 'user.password',
        action: 'U',
        outcome: 0,
        agent: cliAgent,
        source: 'cli',
        entity: { type: 'User', id: u.id },
      });
      process.stdout.write(`password changed for ${u.username}${generated ? `\npassword: ${pw}` : ''}\n`);
    });
  });

  addConfigOptions(user.command('list').description('list accounts')).action(
    async (flags: Record<string, unknown>) => {
      await withServices(flags, async (s) => {
        const list = await s.users.list();
        const w = Math.max(8, ...list.map((u) => u.username.length));
        process.stdout.write(
          `${'USERNAME'.padEnd(w)}  ROLE       PATIENT                               NAME\n`,
        );
        for (const u of list) {
          process.stdout.write(
            `${u.username.padEnd(w)}  ${u.role.padEnd(9)}  ${(u.patientId ?? '-').padEnd(36)}  ${u.displayName}\n`,
          );
        }
      });
    },
  );
}
