// The demo cards at HQ (the same numbers as the terminal's demo), so a fresh terminal can
// provision them from HQ instead of seeding its own.
import { demoCards } from '../core/demo-cards';
import type { HqService } from './service';

export async function seedHqDemo(service: HqService) {
  await service.ensureStore('store-1', 'Демо-магазин');
  for (const [i, c] of demoCards.entries()) {
    const n = String(i + 1).padStart(12, '0');
    await service.enrollAtHq({ cardholderId: `demo-holder-${n}`, holder: c.holder, enrolledAt: '2026-01-01T00:00:00.000Z', card: { cardId: `demo-card-${n}`, number: c.number, chipUid: null } });
  }
  return { store: 'store-1', cards: demoCards.length };
}
