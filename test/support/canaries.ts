/**
 * The privacy suites' secrets: each canary is a unique marker, so any byte of one found where records arrive names
 * the leak. Shared by the ReadMe (privacy.e2e) and OTLP (otlp-privacy.e2e) suites, which send the same request.
 */
export const CANARY = (n: string): string => `CANARY${n}x7q`;

/** A JSON body with secrets at the top, nested in an object and in an array, and a denylisted key. */
export function canaryJson() {
  return {
    password: CANARY('H'),
    card: { number: CANARY('I'), holder: 'Ann' },
    items: [{ cvv: CANARY('J'), sku: 'A1' }],
    ssn: CANARY('K'),
    note: 'hello',
  };
}

/** Secret headers in odd casings: default rules (authorization, api key, cookie) and a `redactHeaders` one. */
export function canaryHeaders(): Record<string, string> {
  return {
    Authorization: `Bearer ${CANARY('A')}`,
    'X-API-KEY': CANARY('B'),
    'x-Session': CANARY('C'),
    cookie: `sid=${CANARY('D')}`,
  };
}

/** A query with a secret twice (two casings) and a denylisted key. */
export const CANARY_QUERY = `?token=${CANARY('E')}&TOKEN=${CANARY('F')}&ssn=${CANARY('G')}&page=2`;
