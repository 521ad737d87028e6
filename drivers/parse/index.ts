// The pure card-data parsers: no I/O, no clock; every function returns a value or a typed error.
export * from './result';
export { identifyCard, type CardIdentity, type IdentifyOptions, type RawFormat } from './identify';
export { parseTrack1, parseTrack2, parseTrack3, parseTracks, splitTracks, type Track1, type Track2, type Tracks } from './tracks';
export { checkCardNumber, looksLikePaymentCard, maskCardNumber, defaultSchemes, type LoyaltyScheme } from './scheme';
export { luhnValid, luhnCheckDigit, gs1Valid } from './luhn';
export { createWedgeDecoder, type WedgeDecoder, type WedgeStep, type KeyInput } from './wedge';
export { parseHex, toHex } from './bytes';
