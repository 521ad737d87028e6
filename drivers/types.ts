// The one reader interface: every adapter (simulated, keyboard wedge, HID, serial) emits these
// events, so the core never cares which reader the store bought.
import type { ReaderStatus } from '../protocol/api';

export type CardKind = 'magstripe' | 'chip' | 'contactless' | 'barcode';
export type ReadSource = 'simulated' | 'wedge' | 'hid' | 'serial' | 'typed';

export interface CardReadEvent {
  readerId: string;
  source: ReadSource;
  kind: CardKind;
  /** The loyalty card number (never a bank PAN: those are refused before an event is made). */
  cardNumber: string;
  /** Magnetic tracks as read (loyalty cards only). */
  tracks?: { track1?: string; track2?: string; track3?: string };
  /** Chip / contactless data: UID or application data as hex. */
  chip?: { uid?: string; atr?: string; aid?: string };
  rawLength: number;
}

export interface ReadErrorEvent {
  readerId: string;
  code: string;
  /** What the cashier should do, in English and Russian ("partial swipe — swipe again"). */
  message: string;
  messageRu?: string;
}

export type ReaderState = ReaderStatus;

export type ReaderConfig =
  | { type: 'simulated'; id: string }
  | {
      type: 'serial';
      id: string;
      path: string;
      baudRate?: number;
      protocol?: 'lines' | 'framed';
      linePreset?: 'track' | 'rfid' | 'number';
      linePattern?: string;
    }
  | { type: 'hid'; id: string; vendorId: number; productId: number; layout: 'magtek' | 'idtech' | 'hidpos' };

/** What every adapter implements; the ReaderManager owns the set. */
export interface Reader {
  readonly id: string;
  readonly kind: ReaderConfig['type'];
  start(): Promise<void>;
  stop(): Promise<void>;
  state(): ReaderState;
}

/** Callbacks the manager hands to each adapter. */
export interface ReaderSink {
  card(event: CardReadEvent): void;
  error(event: ReadErrorEvent): void;
  state(state: ReaderState): void;
}
