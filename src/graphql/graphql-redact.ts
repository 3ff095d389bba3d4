import { REDACTED } from '../metrics.constants';
import { MAX_REDACT_DEPTH } from '../redact/redaction-defaults';
import { readDocument } from './graphql-document';
import { partsOfBody, type GraphqlRequestPart } from './graphql-request';

/**
 * Whether an argument, input field or variable key must not keep its value (the module's redaction rules).
 * `mayName`: false when no name the rules redact occurs anywhere in a text, in any casing (GraphQL names are ASCII,
 * so a secret argument cannot hide from it): such a document is not parsed at all.
 */
export type SecretName = ((name: string) => boolean) & { mayName?: (text: string) => boolean };

const REDACTED_LITERAL = JSON.stringify(REDACTED);

/*
 * The GraphQL step of the format stage: before the redactor's JSON pass runs over the whole body, the documents get
 * the string literals of secret arguments and input fields replaced, and the variables bound to them are replaced
 * (at any depth of input objects and lists), as are keys the rules name at any depth of the variables. What cannot
 * be read whole (a JSON body cut at maxBodyBytes) is not recorded: a document can hold secrets anywhere.
 */

/**
 * Secret values shorter than this are not searched for in echoes (error messages, response bodies): replacing every
 * "1" or "ab" would garble the record. The value itself is always redacted where it was sent.
 */
export const MIN_ECHO_LENGTH = 4;
/** At most this many secret values of one request are searched for in its echoes. */
const MAX_SECRETS = 64;

/** Secret values found while redacting one request, to be searched for in what the server echoed of them. */
export class SecretValues {
  readonly values: string[] = [];

  add(value: unknown, depth = 0): void {
    if (this.values.length >= MAX_SECRETS || depth > MAX_REDACT_DEPTH) return;
    if (typeof value === 'string' || typeof value === 'number' || typeof value === 'bigint') {
      const text = String(value);
      if (text.length >= MIN_ECHO_LENGTH && !this.values.includes(text)) this.values.push(text);
    } else if (value !== null && typeof value === 'object') {
      for (const item of Object.values(value)) this.add(item, depth + 1);
    }
  }
}

/**
 * A text with every secret value of the request replaced, as it is and as JSON and GraphQL write it inside a string
 * (`\"`, `\\`): servers echo values they could not coerce (`Variable "$p" got invalid value …`).
 */
export function scrubEchoes(text: string, secrets: readonly string[]): string {
  let result = text;
  for (const secret of secrets) {
    if (result.includes(secret)) result = result.replaceAll(secret, REDACTED);
    const escaped = JSON.stringify(secret).slice(1, -1);
    if (escaped !== secret && result.includes(escaped)) result = result.replaceAll(escaped, REDACTED);
  }
  return result;
}

/** A document with its secret literals replaced, and the variables bound to secret arguments. */
export function redactDocument(
  document: string,
  isSecret: SecretName,
  secrets?: SecretValues,
): { text: string; secretVariables: Set<string> } {
  if (isSecret.mayName && !isSecret.mayName(document)) return { text: document, secretVariables: new Set() };
  const { secretLiterals, secretVariables } = readDocument(document, isSecret);
  if (!secretLiterals.length) return { text: document, secretVariables };
  let text = '';
  let at = 0;
  for (const [start, end] of secretLiterals) {
    if (start < at) continue; // a literal already replaced (listed twice: a secret default value)
    const comment = document.charCodeAt(start) === 0x23;
    if (!comment) secrets?.add(literalValue(document.slice(start, end)));
    text += document.slice(at, start) + (comment ? `# ${REDACTED}` : REDACTED_LITERAL);
    at = end;
  }
  return { text: text + document.slice(at), secretVariables };
}

/** The value of a string or block-string literal, as near as it can be told (for echo search only). */
function literalValue(literal: string): string {
  if (literal.startsWith('"""'))
    return literal
      .slice(3, literal.endsWith('"""') ? -3 : undefined)
      .replaceAll('\\"""', '"""')
      .trim();
  try {
    return JSON.parse(literal) as string;
  } catch {
    return literal.slice(1, literal.endsWith('"') && literal.length > 1 ? -1 : undefined);
  }
}

/**
 * The variables of one request: bound-to-secret variables replaced whole, keys the rules name replaced at any
 * depth. Variables sent as JSON text (some clients do) are read, redacted and written back; unreadable text goes.
 */
export function redactVariables(
  variables: unknown,
  secretVariables: Set<string>,
  isSecret: SecretName,
  secrets = new SecretValues(),
): unknown {
  if (typeof variables === 'string') {
    let parsed: unknown;
    try {
      parsed = JSON.parse(variables);
    } catch {
      return variables === '' ? variables : REDACTED;
    }
    return JSON.stringify(redactVariables(parsed, secretVariables, isSecret, secrets));
  }
  if (variables === null || typeof variables !== 'object' || Array.isArray(variables)) {
    return redactDeep(variables, isSecret, 0, secrets);
  }
  const out: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(variables)) {
    const secret = secretVariables.has(name) || isSecret(name);
    if (secret) secrets.add(value);
    setOwn(out, name, secret ? REDACTED : redactDeep(value, isSecret, 1, secrets));
  }
  return out;
}

function redactDeep(value: unknown, isSecret: SecretName, depth: number, secrets: SecretValues): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (depth > MAX_REDACT_DEPTH) return REDACTED;
  if (Array.isArray(value)) return value.map((item) => redactDeep(item, isSecret, depth + 1, secrets));
  const out: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) {
    const secret = isSecret(key);
    if (secret) secrets.add(item);
    setOwn(out, key, secret ? REDACTED : redactDeep(item, isSecret, depth + 1, secrets));
  }
  return out;
}

/** `__proto__` and friends as plain own properties, as JSON.parse made them. */
function setOwn(target: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}

function redactPart(
  part: GraphqlRequestPart,
  isSecret: SecretName,
  secrets: SecretValues,
): { part: GraphqlRequestPart; document?: string } {
  const copy: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(part)) setOwn(copy, key, value);
  let secretVariables = new Set<string>();
  let document: string | undefined;
  if (typeof part.query === 'string') {
    const redacted = redactDocument(part.query, isSecret, secrets);
    document = redacted.text;
    secretVariables = redacted.secretVariables;
    copy['query'] = document;
  }
  if ('variables' in part) copy['variables'] = redactVariables(part.variables, secretVariables, isSecret, secrets);
  return { part: copy, document };
}

/** A GraphQL request body, redacted: the text to hand to the redactor's body pass, or why it is not recorded. */
export function redactGraphqlBody(
  text: string,
  mimeType: string,
  truncated: boolean,
  isSecret: SecretName,
  secrets = new SecretValues(),
): { text: string; document?: string } | { dropped: string } {
  if (/^application\/graphql\b/i.test(mimeType)) {
    const document = redactDocument(text, isSecret, secrets).text;
    return { text: document, document };
  }
  const parts = truncated ? undefined : partsOfBody(text, mimeType);
  if (!parts) {
    return {
      dropped: truncated
        ? 'GraphQL request cut at maxBodyBytes, not captured (its document could hold secrets)'
        : 'GraphQL request body that is not JSON, not captured (it could hold secrets)',
    };
  }
  const batch = text.trimStart().startsWith('[');
  // No name the rules redact anywhere in the body, and no `\u` escape that could spell one: nothing to redact, and
  // the body is kept as received (the redactor's own pass still reads it). Otherwise the parsed body is redacted and
  // re-serialized, so duplicate keys cannot carry a second, unredacted document or variable through.
  if (isSecret.mayName && !text.includes('\\u') && !isSecret.mayName(text)) {
    const query = batch ? undefined : parts[0]?.query;
    return { text, ...(typeof query === 'string' && { document: query }) };
  }
  const redacted = parts.map((p) => redactPart(p, isSecret, secrets));
  const document = batch ? undefined : redacted[0]!.document;
  const body = batch ? redacted.map((r) => r.part) : redacted[0]!.part;
  return { text: JSON.stringify(body), ...(document !== undefined && { document }) };
}

/** A GET request URL with its `query` document and `variables` redacted; the URL itself when nothing changed. */
export function redactGraphqlUrl(
  url: string,
  isSecret: SecretName,
  secrets = new SecretValues(),
): { url: string; document?: string } {
  const q = url.indexOf('?');
  if (q < 0) return { url };
  const hash = url.indexOf('#', q);
  const params = new URLSearchParams(url.slice(q + 1, hash < 0 ? undefined : hash));
  const query = params.get('query');
  if (query === null) return { url };
  const { part, document } = redactPart(
    { query, ...(params.has('variables') && { variables: params.get('variables') }) },
    isSecret,
    secrets,
  );
  const changed = part.query !== query || (params.has('variables') && part.variables !== params.get('variables'));
  if (!changed) return { url, document };
  params.set('query', part.query as string);
  if (params.has('variables')) params.set('variables', part.variables as string);
  return { url: `${url.slice(0, q + 1)}${params.toString()}${hash < 0 ? '' : url.slice(hash)}`, document };
}

/**
 * The fields of a multipart GraphQL request (the GraphQL multipart request spec, used for uploads), as capture took
 * them from the parsed body: an `operations` field holding the request as JSON text, or, after graphql-upload's
 * middleware, the request itself in place of the fields. Undefined when the snapshot is not JSON (not recorded).
 */
export function redactUploadFields(
  text: string,
  isSecret: SecretName,
  secrets = new SecretValues(),
): string | undefined {
  let fields: unknown;
  try {
    fields = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (Array.isArray(fields)) {
    return JSON.stringify(fields.map((p: GraphqlRequestPart) => redactPart(p ?? {}, isSecret, secrets).part));
  }
  if (fields === null || typeof fields !== 'object') return text;
  const record = fields as Record<string, unknown>;
  if ('query' in record) return JSON.stringify(redactPart(record, isSecret, secrets).part);
  const operations = record['operations'];
  if (typeof operations !== 'string') return text;
  const redacted = redactGraphqlBody(operations, 'application/json', false, isSecret, secrets);
  const copy: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(record)) setOwn(copy, key, value);
  copy['operations'] = 'dropped' in redacted ? REDACTED : redacted.text;
  return JSON.stringify(copy);
}
