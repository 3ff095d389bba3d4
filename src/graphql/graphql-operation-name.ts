import { readDocument, type GraphqlOperation } from './graphql-document';
import type { GraphqlRequestPart } from './graphql-request';

/** What capture learns of a GraphQL request's operations (plain data, carried by the captured exchange). */
export interface GraphqlOperationSummary {
  /** The endpoint: `query GetOrder`, `mutation { refund }`, `batch: query A; mutation B`; undefined when unknown. */
  operation?: string;
  /** The selected operation of each request of the batch (one for a plain request); undefined entries: unknown. */
  operations: ({ type: GraphqlOperation['type']; name?: string } | undefined)[];
  /** Every operation is an introspection query (`__schema`, `__type`). */
  introspection: boolean;
}

/** A batch's name is cut past this many characters (metrics labels and span names stay short). */
export const MAX_OPERATION_LENGTH = 200;

/**
 * The operation each request runs (by `operationName`, or the document's only operation) and the name the record
 * gets: `type Name`; anonymous operations `type { firstRootField }`; a batch `batch: …` of them joined with `; `.
 */
export function summarizeOperations(parts: GraphqlRequestPart[]): GraphqlOperationSummary {
  const operations: GraphqlOperationSummary['operations'] = [];
  const labels: string[] = [];
  let introspection = parts.length > 0;
  for (const part of parts) {
    const selected = typeof part.query === 'string' ? selectOperation(part.query, part.operationName) : undefined;
    introspection &&= selected?.introspection === true;
    if (!selected) {
      operations.push(undefined);
      labels.push('?');
      continue;
    }
    operations.push(
      selected.name === undefined ? { type: selected.type } : { type: selected.type, name: selected.name },
    );
    labels.push(labelOf(selected));
  }
  const summary: GraphqlOperationSummary = { operations, introspection };
  if (parts.length === 1 && operations[0]) summary.operation = labels[0];
  else if (parts.length > 1) summary.operation = cut(`batch: ${labels.join('; ')}`);
  return summary;
}

function selectOperation(document: string, operationName: unknown): GraphqlOperation | undefined {
  const { operations } = readDocument(document);
  if (typeof operationName === 'string' && operationName !== '') {
    return operations.find((o) => o.name === operationName);
  }
  return operations.length === 1 ? operations[0] : undefined;
}

function labelOf(operation: GraphqlOperation): string {
  if (operation.name !== undefined) return `${operation.type} ${operation.name}`;
  return operation.rootField ? `${operation.type} { ${operation.rootField} }` : operation.type;
}

function cut(text: string): string {
  return text.length <= MAX_OPERATION_LENGTH ? text : `${text.slice(0, MAX_OPERATION_LENGTH - 1)}…`;
}
