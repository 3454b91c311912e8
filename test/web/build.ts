/** Builds the web app once if web/dist is missing (npm install builds it; a fresh checkout may not have). */
import { existsSync } from 'node:fs';
import path from 'node:path';

const ROOT = path.resolve(import.meta.dirname, '../..');

export async function ensureWebBuilt(): Promise<void> {
  if (existsSync(path.join(ROOT, 'web/dist/index.html'))) return;
  const { build } = await import('vite');
  await build({ configFile: path.join(ROOT, 'web/vite.config.ts'), logLevel: 'warn' });
}
