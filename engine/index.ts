// The loyalty engine: pure pricing of a basket under a program, and of a return against the
// original sale. No I/O, no clock, no randomness — `now` is an argument.
export * from './types';
export { validateProgram, programHash, type Program, type Discount, type ProgramCheck } from './program';
export { validateBasket } from './basket';
export { priceBasket, cardTier, cardStateNeeds, type CardStateNeeds, type PriceOptions } from './price';
export { earnReversed, priceReturn, sliceLots, type PricedReturn, type ReturnRequest, type ReturnedLine, type ReturnCheck, type ReturnableSale } from './returns';
export { allocate, percentOf, mulDiv, formatRub } from './money';
