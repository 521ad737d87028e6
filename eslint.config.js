// Lint + the import-boundary rules that keep the layers visible in the folder tree.
// Pure code (engine, card-data parsers, protocol schemas) runs anywhere: no Node, Electron or DOM.
// The renderer runs in a browser sandbox: no Node, and it reaches the core only through protocol/.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import globals from 'globals';

const nodeModules = ['node:*', 'fs', 'fs/*', 'path', 'os', 'crypto', 'child_process', 'net', 'http', 'https', 'stream', 'events', 'url', 'util', 'worker_threads', 'zlib', 'buffer', 'process', 'timers', 'readline', 'tty', 'dgram', 'dns', 'module', 'perf_hooks'];
const nativeAndHost = ['electron', 'better-sqlite3', 'drizzle-orm', 'drizzle-orm/*', 'node-hid', 'serialport', '@serialport/*', 'ws', 'fastify', 'pg', '@electric-sql/*', 'pino', 'tsx', 'tsx/*'];
const nodeLayers = ['**/db/**', '**/core/**', '**/sync/**', '**/host/**', '**/electron/**', '**/cli/**', '**/hq/**', '**/renderer/**', '**/bench/**'];

const pureRules = {
  'no-restricted-imports': ['error', {
    patterns: [
      { group: [...nodeModules, ...nativeAndHost], message: 'Pure code imports nothing from Node, Electron or native modules.' },
      { group: ['react', 'react-dom', 'react/*', 'react-dom/*', 'zustand', 'i18next', 'react-i18next'], message: 'Pure code imports nothing from the UI.' },
      { group: nodeLayers, message: 'Pure code may import only other pure code (engine, drivers/parse, protocol).' },
      { regex: '(^|/)drivers/(?!parse/)', message: 'Pure code may not import reader adapters, only drivers/parse.' },
    ],
  }],
  'no-restricted-globals': ['error',
    { name: 'window', message: 'Pure code has no DOM.' },
    { name: 'document', message: 'Pure code has no DOM.' },
    { name: 'process', message: 'Pure code has no Node process.' },
    { name: 'Buffer', message: 'Pure code uses Uint8Array, not Buffer.' },
    { name: 'require', message: 'Pure code has no require.' },
    { name: 'setTimeout', message: 'Pure code has no clock: pass time in.' },
    { name: 'setInterval', message: 'Pure code has no clock: pass time in.' },
  ],
  'no-restricted-properties': ['error',
    { object: 'Date', property: 'now', message: 'Pure code has no clock: pass `now` in.' },
    { object: 'Math', property: 'random', message: 'Pure code has no randomness.' },
  ],
};

export default tseslint.config(
  { ignores: ['node_modules/**', 'dist/**', 'out/**', 'test-results/**', 'playwright-report/**', '.data/**', 'db/migrations/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { ...globals.node } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
    },
  },
  {
    // Tests build fakes of foreign modules; `any` there is a tool, not a leak.
    files: ['**/*.test.ts', '**/*.test.tsx', 'e2e/**/*.ts'],
    rules: { '@typescript-eslint/no-explicit-any': 'off', 'no-empty-pattern': 'off' },
  },
  {
    files: ['engine/**/*.ts', 'drivers/parse/**/*.ts', 'protocol/**/*.ts'],
    ignores: ['**/*.test.ts'],
    languageOptions: { globals: {} },
    rules: pureRules,
  },
  {
    files: ['renderer/**/*.ts', 'renderer/**/*.tsx'],
    ignores: ['renderer/vite.config.ts'],
    languageOptions: { globals: { ...globals.browser } },
    rules: {
      'no-restricted-imports': ['error', {
        patterns: [
          { group: [...nodeModules, ...nativeAndHost], message: 'The renderer imports nothing from Node: it reaches the core only through the typed API.' },
          { group: ['**/db/**', '**/core/**', '**/sync/**', '**/host/**', '**/electron/**', '**/cli/**', '**/hq/**'], message: 'The renderer talks to the core only through protocol/ (the typed API).' },
          { regex: '(^|/)drivers/(?!parse/)', message: 'The renderer may use the pure parsers (drivers/parse), never the reader adapters.' },
        ],
      }],
    },
  },
  {
    // The HQ dashboard page runs in a browser too: it reaches HQ only over its HTTP API.
    files: ['dashboard/**/*.ts', 'dashboard/**/*.tsx'],
    ignores: ['dashboard/vite.config.ts'],
    languageOptions: { globals: { ...globals.browser } },
    rules: {
      'no-restricted-imports': ['error', {
        patterns: [
          { group: [...nodeModules, ...nativeAndHost], message: 'The dashboard imports nothing from Node: it reaches HQ over HTTP.' },
          { group: ['**/db/**', '**/core/**', '**/sync/**', '**/host/**', '**/electron/**', '**/cli/**', '**/hq/**', '**/drivers/**'], message: 'The dashboard reaches HQ only over its HTTP API.' },
        ],
      }],
    },
  },
);
