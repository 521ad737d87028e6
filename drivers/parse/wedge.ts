// Keyboard-wedge decoder: a state machine over key events that tells a reader burst (keys a few
// milliseconds apart, closed by Enter or a pause) from a person typing, and decodes from
// `KeyboardEvent.code`, so a Russian layout yields the same card number as an English one.
//
// Every printable key is held back from the page (`consume`) while it could still be the start
// of a burst. When the run ends — a slow gap, a non-printable key, or the caller's timer calling
// `flush` — a short or slow run is handed back as `release` (the text a person typed, in their
// layout) for the caller to put into the focused field; a long fast run is a `burst`.
import { usKeyMap } from './layout';

export interface KeyInput {
  code: string;
  key: string;
  timeStamp: number;
  shiftKey?: boolean;
  ctrlKey?: boolean;
  altKey?: boolean;
  metaKey?: boolean;
}

export interface WedgeStep {
  /** Keep this key from the page (prevent its default, stop it). */
  consume: boolean;
  /** Text a person typed, to insert into the focused field before this key is handled. */
  release?: string;
  /** A reader burst, decoded by physical key (US layout). */
  burst?: string;
}

export interface WedgeOptions {
  /** Longest gap between two keys of one burst (readers: 1–20 ms; people: 80 ms or more). */
  maxInterKeyMs?: number;
  /** Shortest fast run that counts as a reader (shorter runs are typing). */
  minBurstLength?: number;
}

export interface WedgeDecoder {
  feed(key: KeyInput): WedgeStep;
  /** Call when no key came for `maxInterKeyMs`: ends the run (typing released, or a burst). */
  flush(now: number): WedgeStep;
  readonly maxInterKeyMs: number;
}

export function createWedgeDecoder(opts: WedgeOptions = {}): WedgeDecoder {
  const gap = opts.maxInterKeyMs ?? 40;
  const minLen = opts.minBurstLength ?? 6;
  let held = ''; // decoded characters of the current run
  let typed = ''; // the same keys as the active layout typed them
  let last = -Infinity;

  /** Ends the current run: a burst when long enough, else the typed text to release. */
  const endRun = (): WedgeStep => {
    const step: WedgeStep = held.length >= minLen ? { consume: false, burst: held } : { consume: false, ...(typed ? { release: typed } : {}) };
    held = '';
    typed = '';
    return step;
  };

  return {
    maxInterKeyMs: gap,
    feed(k) {
      // Shift itself is part of typing '?' or '%': it neither ends a run nor starts one.
      if (k.code === 'ShiftLeft' || k.code === 'ShiftRight' || k.code === 'CapsLock') return { consume: held.length > 0 && k.timeStamp - last <= gap };
      const slow = k.timeStamp - last > gap;
      last = k.timeStamp;
      const ended = held && slow ? endRun() : { consume: false };
      if (k.ctrlKey || k.altKey || k.metaKey) return { ...ended, ...(held ? endRun() : {}), consume: false };
      if (k.code === 'Enter' || k.code === 'NumpadEnter' || k.code === 'Tab') {
        if (!held) return ended;
        const step = endRun();
        return step.burst ? { consume: true, burst: step.burst } : { consume: false, release: step.release };
      }
      const pair = usKeyMap[k.code];
      if (!pair) {
        // Arrows, Backspace, F-keys: a person is editing; what was held goes in first.
        return { ...(held ? endRun() : ended), consume: false };
      }
      // The key's own character when it is one of this physical key's two (a US layout, even if
      // the Shift state was not reported); otherwise the layout is foreign: decode by Shift.
      held += k.key === pair[0] || k.key === pair[1] ? k.key : k.shiftKey ? pair[1] : pair[0];
      typed += k.key.length === 1 ? k.key : k.shiftKey ? pair[1] : pair[0];
      return { ...ended, consume: true };
    },
    flush(now) {
      if (!held || now - last < gap) return { consume: false };
      return endRun();
    },
  };
}
