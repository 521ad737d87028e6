// The keyboard-wedge reader in the window: every keydown goes through the pure decoder first
// (capture phase, before any field sees it). Reader bursts are swallowed and sent to the core;
// keys a person typed are put back into the focused field as if nothing happened.
import { useEffect, useRef } from 'react';
import { createWedgeDecoder, type WedgeStep } from '../../drivers/parse/wedge';
import { api } from './transport';
import { useCheckout } from './store';
import { useSession } from './session';

/** Insert text at the caret of the focused input/textarea the way typing would (React sees it). */
function typeIntoFocused(text: string) {
  const el = document.activeElement;
  if (!(el instanceof HTMLInputElement || el instanceof HTMLTextAreaElement) || el.readOnly || el.disabled) return;
  const start = el.selectionStart ?? el.value.length;
  const end = el.selectionEnd ?? el.value.length;
  const value = el.value.slice(0, start) + text + el.value.slice(end);
  const setter = Object.getOwnPropertyDescriptor(Object.getPrototypeOf(el), 'value')?.set;
  setter?.call(el, value);
  el.setSelectionRange?.(start + text.length, start + text.length);
  el.dispatchEvent(new Event('input', { bubbles: true }));
}

async function defaultBurst(text: string) {
  const r = await api.call('wedgeRead', { text });
  // On the enrollment screen an unregistered card is the one being bound, not an error.
  if (!r.ok && !(r.error.code === 'unknown_card' && useSession.getState().screen === 'enroll')) useCheckout.getState().showError(r.error);
}

export function useWedgeReader(onBurst?: (text: string) => void) {
  const handler = useRef(onBurst);
  handler.current = onBurst;
  useEffect(() => {
    const decoder = createWedgeDecoder();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const apply = (step: WedgeStep) => {
      if (step.release) typeIntoFocused(step.release);
      if (step.burst) (handler.current ?? ((t: string) => void defaultBurst(t)))(step.burst);
    };
    const onKey = (e: KeyboardEvent) => {
      if (e.isComposing) return;
      const step = decoder.feed({ code: e.code, key: e.key, timeStamp: e.timeStamp, shiftKey: e.shiftKey, ctrlKey: e.ctrlKey, altKey: e.altKey, metaKey: e.metaKey });
      if (step.consume) {
        e.preventDefault();
        e.stopImmediatePropagation();
      }
      apply(step);
      clearTimeout(timer);
      timer = setTimeout(() => apply(decoder.flush(performance.now())), decoder.maxInterKeyMs + 5);
    };
    window.addEventListener('keydown', onKey, { capture: true });
    return () => {
      clearTimeout(timer);
      window.removeEventListener('keydown', onKey, { capture: true });
    };
  }, []);
}
