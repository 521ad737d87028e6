// Which program prices sales: the newest HQ has published whose moment has come, as the feed
// brings it (sync/store.ts, Ledger.activateDueProgram); until then, or on a terminal without HQ,
// a file given at start-up, else the ledger's active version, else (on a fresh ledger) the demo
// program shipped in resources/.
import { readFileSync } from 'node:fs';
import { describeErrors, validateProgram, type Program } from '../engine';
import type { Ledger, ProgramSource } from '../db/ledger';
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
  if (!checked.ok) throw new Error(`Program ${file} is invalid: ${describeErrors(checked.errors)}`);
  return { program: checked.program, hash: checked.hash };
}

function activate(ledger: Ledger, active: ActiveProgram, source: Exclude<ProgramSource, 'hq'>, now: string): ActiveProgram {
  ledger.activateProgram(active.program, active.hash, source, now);
  return active;
}

/** The ledger's active program version, validated as it was when activated. */
export function storedActiveProgram(ledger: Ledger): ActiveProgram | null {
  const row = ledger.activeProgram();
  if (!row) return null;
  const checked = validateProgram(JSON.parse(row.json));
  return checked.ok ? { program: checked.program, hash: checked.hash } : null;
}

/**
 * The program the terminal starts with. A file given at start-up is activated, unless this ledger
 * has had that very version in force before and HQ has published another since: HQ's stays (the
 * feed will not bring it again). A file new to the ledger is the operator's word, and wins.
 */
export function loadActiveProgram(ledger: Ledger, programFile: string | undefined, now: string): ActiveProgram | null {
  if (programFile) {
    const fromFile = readProgramFile(programFile);
    const held = ledger.programVersion(fromFile.program.id, fromFile.program.version);
    const replacedByHq = held && held.hash === fromFile.hash && !held.active && ledger.activeProgram()?.source === 'hq';
    return (replacedByHq && storedActiveProgram(ledger)) || activate(ledger, fromFile, 'file', now);
  }
  return storedActiveProgram(ledger) ?? activate(ledger, readProgramFile(resourcePath('demo-program.json')), 'demo', now);
}
