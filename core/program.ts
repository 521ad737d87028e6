// Which program prices sales: the ledger's active version, replaced by a file given at start-up
// (or, on a fresh ledger, the demo program shipped in resources/).
import { readFileSync } from 'node:fs';
import { validateProgram, type Program } from '../engine';
import type { Ledger } from '../db/ledger';
import { resourcePath } from './resources';

export interface ActiveProgram {
  program: Program;
  hash: string;
}

export function readProgramFile(file: string): ActiveProgram {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new Error(`Cannot read program ${file}: ${(e as Error).message}`);
  }
  const checked = validateProgram(json);
  if (!checked.ok) throw new Error(`Program ${file} is invalid: ${checked.errors.map((e) => `${e.path}: ${e.message}`).join('; ')}`);
  return { program: checked.program, hash: checked.hash };
}

export function activateProgram(ledger: Ledger, active: ActiveProgram, now: string) {
  const { program, hash } = active;
  ledger.sqlite.transaction(() => {
    ledger.sqlite.prepare('UPDATE programs SET active = 0 WHERE active = 1').run();
    ledger.sqlite
      .prepare(
        `INSERT INTO programs (id, version, hash, json, received_at, active) VALUES (?, ?, ?, ?, ?, 1)
         ON CONFLICT(id, version) DO UPDATE SET active = 1`,
      )
      .run(program.id, program.version, hash, JSON.stringify(program), now);
  }).immediate();
}

export function loadActiveProgram(ledger: Ledger, programFile: string | undefined, now: string): ActiveProgram | null {
  if (programFile) {
    const fromFile = readProgramFile(programFile);
    activateProgram(ledger, fromFile, now);
    return fromFile;
  }
  const row = ledger.sqlite.prepare('SELECT json FROM programs WHERE active = 1').get() as { json: string } | undefined;
  if (row) {
    const checked = validateProgram(JSON.parse(row.json));
    if (checked.ok) return { program: checked.program, hash: checked.hash };
  }
  const demo = readProgramFile(resourcePath('demo-program.json'));
  activateProgram(ledger, demo, now);
  return demo;
}
