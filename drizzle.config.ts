import { defineConfig } from 'drizzle-kit';

// `npx drizzle-kit generate --name <what-it-does>` writes the next forward-only migration.
export default defineConfig({
  dialect: 'sqlite',
  schema: './db/schema.ts',
  out: './db/migrations',
});
