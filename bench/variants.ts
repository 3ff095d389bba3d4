/**
 * The benchmark's variants: bare NestJS; `noop-interceptor`, bare plus one global interceptor that only calls
 * `next.handle()` (the floor of any design that captures through Nest's interceptor pipeline, as the module does);
 * this library with everything on; and the peers.
 */
export const VARIANTS = [
  'bare',
  'noop-interceptor',
  'nestjs-api-metrics',
  'readmeio',
  'moesif-nodejs',
  'apitally',
] as const;
export type Variant = (typeof VARIANTS)[number];

/** ~1 KB of JSON, with the two fields the library's variant redacts (`$.user.password`, `$.card.number`). */
export const PAYLOAD = {
  user: { id: 42, name: 'Ada Lovelace', email: 'ada@example.com', password: 'not-a-real-secret' },
  card: { number: '4111111111111111', brand: 'visa' },
  items: Array.from({ length: 12 }, (_, i) => ({
    sku: `SKU-${1000 + i}`,
    name: `Item number ${i}`,
    qty: i,
    price: 9.99,
  })),
};
