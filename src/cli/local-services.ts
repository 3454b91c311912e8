/**
 * For operator commands that work on the local store (`user`, `device`, …): opens the store and
 * the services, runs the command, and closes them again. An AppError (bad input, not found) is
 * printed as one line and sets exit code 1; anything else is a bug and propagates.
 * With Redis configured, changes made here (e.g. ended sessions) reach every running node.
 */
import { loadConfig } from '../config.ts';
import { AppError } from '../errors.ts';
import type { Services } from '../services.ts';

export async function withServices<T>(
  flags: Record<string, unknown>,
  fn: (s: Services) => Promise<T>,
): Promise<T | undefined> {
  const config = loadConfig(flags);
  const [{ createServices }, { openStore }, { createBus }] = await Promise.all([
    import('../services.ts'),
    import('../store/db.ts'),
    import('../bus/bus.ts'),
  ]);
  const store = await openStore({ dataDir: config.dataDir, databaseUrl: config.databaseUrl });
  const services = await createServices(config, store, await createBus(config.redisUrl));
  try {
    return await fn(services);
  } catch (err) {
    if (err instanceof AppError) {
      process.stderr.write(`carewire: ${err.message}\n`);
      process.exitCode = 1;
      return undefined;
    }
    throw err;
  } finally {
    await services.close();
    await store.close();
  }
}
