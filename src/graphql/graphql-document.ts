import { GraphqlLexer, skipBalanced, TokenKind } from './graphql-lexer';

/** One operation definition of a document. */
export interface GraphqlOperation {
  type: 'query' | 'mutation' | 'subscription';
  /** Its name, when it has one. */
  name?: string;
  /** The first field of its root selection set (alias resolved); undefined when it starts with a fragment spread. */
  rootField?: string;
  /** Every root field is an introspection field (`__schema`, `__type`, `__typename`). */
  introspection: boolean;
}

/** What one pass over a document found. */
export interface GraphqlDocumentInfo {
  operations: GraphqlOperation[];
  /**
   * [start, end) of every string or block-string literal to redact, and of every comment that names a redacted key
   * (`# password: …`: comments can hold anything), in text order.
   */
  secretLiterals: [number, number][];
  /** Variables bound (at any depth of input objects and lists) to an argument or input field the rules redact. */
  secretVariables: Set<string>;
}

/** Names longer than this are not used as operation or field names (a name is data the client chose). */
const MAX_NAME = 100;
/** Nesting past this is not followed: every literal and variable below it counts as secret. */
const MAX_DEPTH = 128;
/** Words of a comment, as keys are written (`api-key`, `client_secret`). */
const WORDS = /[A-Za-z_][\w-]*/g;

const enum Frame {
  /** A selection set `{ ... }`. */
  Selection,
  /** Arguments `( ... )` of a field or directive. */
  Arguments,
  /** Variable definitions `( $a: T = default ... )`. */
  Variables,
  /** An input object value `{ key: value }`. */
  Object,
  /** A list value `[ ... ]`, or a list type in a variable definition. */
  List,
}

interface FrameState {
  kind: Frame;
  /** Every literal and variable inside is secret (an ancestor key is redacted). */
  secret: boolean;
  /** Inside a variable definition: the variable whose default value this is. */
  owner?: string;
  /** The root selection set of `operation`. */
  root?: GraphqlOperation;
}

/**
 * Reads a GraphQL document in one pass of the lexer: its operations (type, name, first root field) and, with
 * `isSecret`, the string literals of arguments and input fields whose names the redaction rules name, and the
 * variables bound to them, directly or inside input objects and lists, in operations and fragments alike (default
 * values of such variables included). Never throws: cut or malformed text is read as far as it goes.
 */
export function readDocument(text: string, isSecret?: (name: string) => boolean): GraphqlDocumentInfo {
  const lexer = new GraphqlLexer(text);
  const commentSpans: [number, number][] = [];
  if (isSecret) {
    lexer.onComment = (start, end) => {
      for (const word of text.slice(start + 1, end).match(WORDS) ?? []) {
        if (isSecret(word)) return void commentSpans.push([start, end]);
      }
    };
  }
  const operations: GraphqlOperation[] = [];
  const secretLiterals: [number, number][] = [];
  const secretVariables = new Set<string>();
  const defaults = new Map<string, [number, number][]>();
  const stack: FrameState[] = [];
  let operation: GraphqlOperation | undefined;
  /** At the top level: a definition was started and its selection set not yet opened. */
  let header: 'operation' | 'fragment' | undefined;
  let prev: TokenKind = TokenKind.End;
  let prevPunct = 0;
  /** Offsets of the previous token when it was a name (read only when it turns out to be a key). */
  let prevStart = 0;
  let prevEnd = 0;
  /** In arguments or an object, after `key:`: whether the value that follows is secret. */
  let valueSecret: boolean | undefined;
  /** In a selection set: the next name is a fragment name (after `...`) or a type condition (after `on`). */
  let skipName = false;
  /** The previous name followed `@`: a `(` after it opens directive arguments. */
  let directive = false;
  let currentVariable: string | undefined;
  /** A name in a root selection set: the field, unless `:` follows (then it was an alias). */
  let pendingRoot: { operation: GraphqlOperation; name: string } | undefined;

  const secretHere = (): boolean => {
    const top = stack[stack.length - 1];
    if (!top) return false;
    if (top.kind === Frame.Arguments || top.kind === Frame.Object) return valueSecret ?? top.secret;
    return top.secret;
  };
  const ownerHere = (): string | undefined => {
    const top = stack[stack.length - 1];
    return top?.kind === Frame.Variables ? currentVariable : top?.owner;
  };
  const push = (kind: Frame, secret: boolean, root?: GraphqlOperation) => {
    stack.push({ kind, secret: secret || stack.length >= MAX_DEPTH, owner: ownerHere(), ...(root && { root }) });
    valueSecret = undefined;
  };

  for (let kind = lexer.next(); kind !== TokenKind.End; kind = lexer.next()) {
    const top = stack[stack.length - 1];
    if (pendingRoot) {
      if (kind !== TokenKind.Punct || lexer.punct !== 0x3a) noteRootField(pendingRoot.operation, pendingRoot.name);
      pendingRoot = undefined;
    }
    if (kind === TokenKind.Punct) {
      const p = lexer.punct;
      // Naming only (no rules): what lies below an operation's root fields is skipped, not tokenized.
      if (!isSecret && (p === 0x7b || p === 0x28 || p === 0x5b) && (top || header === 'fragment' || p !== 0x7b)) {
        skipBalanced(lexer);
        prev = TokenKind.Punct;
        prevPunct = 0x7d;
        directive = false;
        continue;
      }
      if (p === 0x7b /* { */) {
        if (!top) {
          if (header !== 'fragment') {
            if (!header) {
              operation = { type: 'query', introspection: false };
              operations.push(operation);
            }
            push(Frame.Selection, false, operation);
          } else {
            push(Frame.Selection, false);
          }
          header = undefined;
        } else if (top.kind === Frame.Selection) {
          push(Frame.Selection, false);
        } else {
          push(Frame.Object, secretHere());
        }
        skipName = false;
      } else if (p === 0x28 /* ( */) {
        if (!top && !directive) push(Frame.Variables, false);
        else push(Frame.Arguments, top ? secretHere() : false);
      } else if (p === 0x5b /* [ */) {
        push(Frame.List, top ? secretHere() : false);
      } else if (p === 0x7d || p === 0x29 || p === 0x5d /* } ) ] */) {
        const closed = stack.pop();
        if (closed?.kind === Frame.Variables) currentVariable = undefined;
        valueSecret = undefined; // a container value is complete
      } else if (p === 0x3a /* : */) {
        if (top && (top.kind === Frame.Arguments || top.kind === Frame.Object) && prev === TokenKind.Name) {
          valueSecret = top.secret || (isSecret !== undefined && isSecret(text.slice(prevStart, prevEnd)));
        }
      } else if (p === 0x2e /* ... */) {
        skipName = true;
      }
      directive = false;
      if (p === 0x24 /* $ */) {
        // A variable: `$name` follows.
        const nameKind = lexer.next();
        if (nameKind === TokenKind.Name) {
          const name = lexer.value();
          if (top?.kind === Frame.Variables) {
            currentVariable = name;
          } else if (top && secretHere()) {
            secretVariables.add(name);
          }
          if (top && (top.kind === Frame.Arguments || top.kind === Frame.Object)) valueSecret = undefined;
          prev = TokenKind.Name;
          prevStart = prevEnd = 0;
          continue;
        }
        if (nameKind === TokenKind.End) break;
      }
      prev = kind;
      prevPunct = p;
      continue;
    }
    if (kind === TokenKind.String || kind === TokenKind.BlockString) {
      if (top) {
        const span: [number, number] = [lexer.start, lexer.end];
        if (secretHere()) secretLiterals.push(span);
        const owner = ownerHere();
        if (owner !== undefined) {
          let list = defaults.get(owner);
          if (!list) defaults.set(owner, (list = []));
          list.push(span);
        }
        if (top.kind === Frame.Arguments || top.kind === Frame.Object) valueSecret = undefined;
      }
    } else if (kind === TokenKind.Name) {
      // Most names (fields of nested selections, values) are never read: no string is made for them.
      const needed: boolean = !top || (top.kind === Frame.Selection && (top.root !== undefined || skipName));
      const name: string = needed ? lexer.value() : '';
      if (!top) {
        if (!header && (name === 'query' || name === 'mutation' || name === 'subscription')) {
          operation = { type: name, introspection: false };
          operations.push(operation);
          header = 'operation';
        } else if (!header && name === 'fragment') {
          header = 'fragment';
          operation = undefined;
        } else if (header === 'operation' && operation && operation.name === undefined && prev !== TokenKind.Punct) {
          if (name.length <= MAX_NAME) operation.name = name;
        }
        directive = prev === TokenKind.Punct && prevPunct === 0x40;
      } else if (top.kind === Frame.Selection) {
        directive = prev === TokenKind.Punct && prevPunct === 0x40;
        if (skipName) {
          // `...Fragment`, `... on Type`: the fragment or the type, not a field (an operation that spreads a
          // fragment at its root is named by its type alone, and is never taken for introspection).
          skipName = name === 'on' && prev === TokenKind.Punct && prevPunct === 0x2e;
          if (top.root) {
            top.root.rootField ??= '';
            top.root.introspection = false;
          }
        } else if (!directive && top.root) {
          pendingRoot = { operation: top.root, name };
        }
      } else if (top.kind === Frame.Arguments || top.kind === Frame.Object) {
        // A key, or an enum/boolean/null value after `key:`.
        if (valueSecret !== undefined) valueSecret = undefined;
        directive = false;
      } else {
        directive = prev === TokenKind.Punct && prevPunct === 0x40;
      }
      prev = kind;
      prevStart = lexer.start;
      prevEnd = lexer.end;
      continue;
    } else if (top && (top.kind === Frame.Arguments || top.kind === Frame.Object)) {
      valueSecret = undefined; // a number
    }
    directive = false;
    prev = kind;
  }
  if (pendingRoot) noteRootField(pendingRoot.operation, pendingRoot.name);
  for (const name of secretVariables) {
    for (const span of defaults.get(name) ?? []) secretLiterals.push(span);
  }
  for (const span of commentSpans) secretLiterals.push(span);
  if ((secretVariables.size && defaults.size) || commentSpans.length) secretLiterals.sort((a, b) => a[0] - b[0]);
  return { operations, secretLiterals, secretVariables };
}

/** A field of an operation's root selection set, in order: the first names anonymous operations. */
function noteRootField(operation: GraphqlOperation, name: string): void {
  const introspectionField = name.startsWith('__');
  if (operation.rootField === undefined) {
    operation.rootField = name.length <= MAX_NAME ? name : '';
    operation.introspection = introspectionField;
  } else {
    operation.introspection &&= introspectionField;
  }
}
