import type { MetricsGroupInfo } from '../src';

/** The caller of ReadMe's cross-SDK example routes. */
export const OWLBERT: MetricsGroupInfo = {
  apiKey: 'owlbert-api-key',
  label: 'Owlbert',
  email: 'owlbert@example.com',
};

/** Keys the sample's guard accepts, and who they belong to. */
export const CUSTOMERS: Record<string, { name: string; email: string }> = {
  'acme-key-0001': { name: 'Acme Corp', email: 'dev@acme.example' },
  'globex-key-0002': { name: 'Globex', email: 'api@globex.example' },
};
