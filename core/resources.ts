import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** resources/ in a checkout, or beside the bundle in a packaged app (LOYALTY_RESOURCES_DIR). */
export function resourcePath(name: string): string {
  const here = dirname(fileURLToPath(import.meta.url));
  const dirs = [process.env.LOYALTY_RESOURCES_DIR, join(here, '..', 'resources'), resolve('resources')].filter((d): d is string => !!d);
  return join(dirs.find((d) => existsSync(join(d, name))) ?? dirs[dirs.length - 1]!, name);
}
