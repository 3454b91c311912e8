/** User accounts: creation, lookup and password changes. Passwords are only ever stored as argon2id. */
import { randomUUID } from 'node:crypto';
import { badRequest, conflict, notFound } from '../errors.ts';
import type { Db } from '../store/db.ts';
import type { Role, UsersTable } from '../store/schema.ts';
import { hashPassword, passwordProblem } from './passwords.ts';
import { ROLES } from './tokens.ts';

export interface User {
  id: string;
  username: string;
  role: Role;
  displayName: string;
  patientId: string | null;
  disabled: boolean;
}

export interface NewUser {
  username: string;
  password: string;
  role: Role;
  displayName?: string | undefined;
  patientId?: string | null | undefined;
}

const USERNAME = /^[a-z0-9][a-z0-9._-]{1,63}$/;

export function toUser(r: UsersTable): User {
  return {
    id: r.id,
    username: r.username,
    role: r.role,
    displayName: r.display_name,
    patientId: r.patient_id,
    disabled: r.disabled === 1,
  };
}

export class UserService {
  readonly #db: Db;
  constructor(db: Db) {
    this.#db = db;
  }

  async create(input: NewUser): Promise<User> {
    const username = input.username.trim().toLowerCase();
    if (!USERNAME.test(username)) {
      throw badRequest('username: 2-64 characters, lower-case letters, digits, dot, dash or underscore');
    }
    if (!ROLES.includes(input.role)) throw badRequest(`role must be one of ${ROLES.join(', ')}`);
    const problem = passwordProblem(input.password);
    if (problem) throw badRequest(problem);
    if (input.role === 'patient' && !input.patientId) throw badRequest('a patient account needs patientId');
    if (input.role !== 'patient' && input.patientId)
      throw badRequest('only patient accounts link to a patient');
    if (input.patientId) {
      const p = await this.#db
        .selectFrom('patients')
        .select('id')
        .where('id', '=', input.patientId)
        .executeTakeFirst();
      if (!p) throw notFound(`patient ${input.patientId} not found`);
    }
    if (await this.findByUsername(username)) throw conflict(`username ${username} is taken`);
    const now = Date.now();
    const row: UsersTable = {
      id: randomUUID(),
      username,
      password_hash: await hashPassword(input.password),
      role: input.role,
      display_name: input.displayName?.trim() || username,
      patient_id: input.patientId ?? null,
      disabled: 0,
      created_at: now,
      updated_at: now,
    };
    await this.#db.insertInto('users').values(row).execute();
    return toUser(row);
  }

  async findByUsername(username: string): Promise<UsersTable | undefined> {
    return this.#db
      .selectFrom('users')
      .selectAll()
      .where('username', '=', username.trim().toLowerCase())
      .executeTakeFirst();
  }

  async get(id: string): Promise<User | undefined> {
    const r = await this.#db.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst();
    return r ? toUser(r) : undefined;
  }

  async list(): Promise<User[]> {
    const rows = await this.#db.selectFrom('users').selectAll().orderBy('username').execute();
    return rows.map(toUser);
  }

  async setPassword(username: string, password: string): Promise<User> {
    const problem = passwordProblem(password);
    if (problem) throw badRequest(problem);
    const row = await this.findByUsername(username);
    if (!row) throw notFound(`user ${username} not found`);
    await this.#db
      .updateTable('users')
      .set({ password_hash: await hashPassword(password), updated_at: Date.now() })
      .where('id', '=', row.id)
      .execute();
    return toUser(row);
  }

  /** Used when a stored hash has weaker parameters than today's: upgraded at the next login. */
  async replaceHash(id: string, hash: string): Promise<void> {
    await this.#db
      .updateTable('users')
      .set({ password_hash: hash, updated_at: Date.now() })
      .where('id', '=', id)
      .execute();
  }
}
