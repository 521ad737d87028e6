// Every parser answers with a value or a typed error a cashier can act on; none throws.
// Error texts never quote the input: a misread bank card must not leak its number into a message.

export interface ParseError {
  /** Stable machine code (see `messages` below for the common ones). */
  code: string;
  /** Cashier-facing English text. */
  message: string;
  /** Cashier-facing Russian text. */
  messageRu?: string;
  /** Technical detail for logs and `loyalty parse-card`: positions and lengths only, never card data. */
  detail?: string;
}

export type Result<T> = { ok: true; value: T } | { ok: false; error: ParseError };

export function ok<T>(value: T): Result<T> {
  return { ok: true, value };
}

const messages = {
  empty: ['Nothing was read — swipe or scan again', 'Ничего не считано — проведите или отсканируйте ещё раз'],
  partial_swipe: ['Partial swipe — swipe again', 'Карта считана не полностью — проведите ещё раз'],
  misread: ['Card misread — swipe again', 'Ошибка чтения карты — проведите ещё раз'],
  track_error: ['The reader could not decode the stripe — swipe again, evenly', 'Считыватель не распознал полосу — проведите карту ещё раз, ровно'],
  too_long: ['Card data is too long — this is not a loyalty card', 'Слишком длинные данные — это не карта лояльности'],
  bad_check_digit: ['Card number check failed — swipe again or type the number', 'Номер карты не прошёл проверку — проведите ещё раз или введите номер'],
  bad_number: ['Not a card number this terminal knows — check the card', 'Номер карты не распознан — проверьте карту'],
  bank_card: ['This is a bank card — please present the loyalty card', 'Это банковская карта — приложите карту лояльности'],
  wrong_layout: [
    'The reader typed in the Russian keyboard layout — switch to English and swipe again',
    'Считыватель ввёл данные в русской раскладке — переключите на английскую и проведите ещё раз',
  ],
  unknown_format: ['Unrecognised card data — swipe again or type the number', 'Данные карты не распознаны — проведите ещё раз или введите номер'],
  bad_hex: ['Expected hexadecimal bytes', 'Ожидались шестнадцатеричные байты'],
  hid_report: ['The reader sent an unreadable report — swipe again', 'Считыватель передал нечитаемые данные — проведите ещё раз'],
  atr: ['The chip did not answer properly — take the card out and insert it again', 'Чип не ответил — выньте карту и вставьте снова'],
  apdu: ['The chip card answered with an error — insert it again', 'Чип карты ответил ошибкой — вставьте карту ещё раз'],
  tlv: ['The chip card data is damaged — insert it again', 'Данные чипа повреждены — вставьте карту ещё раз'],
  not_loyalty_chip: ['This chip card has no loyalty application — present the loyalty card', 'На чипе нет приложения лояльности — приложите карту лояльности'],
  frame: ['The reader sent a damaged message', 'Считыватель передал повреждённое сообщение'],
  line: ['The reader sent a line without a card number — read the card again', 'Считыватель передал строку без номера карты — считайте карту ещё раз'],
  config: ['Reader settings are invalid — ask the administrator', 'Неверные настройки считывателя — обратитесь к администратору'],
} as const satisfies Record<string, readonly [string, string]>;

export type ErrorCode = keyof typeof messages;

/** A typed error with the catalogue's cashier texts for `code`. */
export function fail<T = never>(code: ErrorCode, detail?: string): Result<T> {
  return { ok: false, error: parseError(code, detail) };
}

export function parseError(code: ErrorCode, detail?: string): ParseError {
  const [message, messageRu] = messages[code];
  return detail === undefined ? { code, message, messageRu } : { code, message, messageRu, detail };
}

/** A typed error with texts of its own (e.g. a status word's meaning). */
export function failWith<T = never>(code: string, message: string, messageRu: string, detail?: string): Result<T> {
  return { ok: false, error: detail === undefined ? { code, message, messageRu } : { code, message, messageRu, detail } };
}
