import type { PathStep } from './jsonpath';

/*
 * The JSONPath rules the scanner applies (names, `*`, indexes, `..`), as an automaton over keys. A node is the set of
 * rule states a container's keys continue from (a state: a rule and how many of its steps are matched). Nodes are
 * built on first use and remembered, with their transitions, so that the scanner reads a key by comparing it with the
 * few names the node's rules wait for, in place: nothing is allocated per key. The number of nodes is bounded by the
 * rules (sets of their states), never by the documents.
 */

/** What a value under a key becomes: redacted whole (null), or read with the node's rules for its children. */
export type PathChild = PathNode | null;

export class PathNode {
  /** The names some rule waits for here (a JSON key matches one exactly: JSONPath names are case-sensitive). */
  readonly names: string[] = [];
  /** Each name read as an array index (`[0]` is the name "0"); -1 for names that are not an index. */
  readonly indexes: number[] = [];
  /** Whether some name is an index: only then does the scanner count array items. */
  readonly countsItems: boolean;
  /** Whether no rule can match below: the scanner then skips the keys' rule work entirely. */
  readonly dead: boolean;
  private readonly children: (PathChild | undefined)[] = [];
  private otherChild: PathChild | undefined;

  constructor(
    private readonly automaton: PathAutomaton,
    readonly states: readonly number[],
  ) {
    const steps = automaton.steps;
    for (const state of states) {
      const key = steps[automaton.rule(state)]![automaton.matched(state)]!.key;
      if (key !== undefined && !this.names.includes(key)) {
        this.names.push(key);
        this.indexes.push(/^(?:0|[1-9]\d{0,14})$/.test(key) ? Number(key) : -1);
      }
    }
    this.countsItems = this.indexes.some((i) => i >= 0);
    this.dead = states.length === 0;
  }

  /** The child for the i-th name. */
  named(i: number): PathChild {
    let child = this.children[i];
    if (child === undefined) child = this.children[i] = this.automaton.next(this.states, this.names[i]);
    return child;
  }

  /** The child for a key that is none of the names (only `*` steps match it). */
  other(): PathChild {
    if (this.otherChild === undefined) this.otherChild = this.automaton.next(this.states, undefined);
    return this.otherChild;
  }

  /** The child for the object member `text[start, end)` (an unescaped key). */
  memberAt(text: string, start: number, end: number): PathChild {
    const length = end - start;
    for (let i = 0; i < this.names.length; i++) {
      const name = this.names[i]!;
      if (name.length === length && text.startsWith(name, start)) return this.named(i);
    }
    return this.other();
  }

  /** The child for a key read as a string (an escaped key, decoded). */
  member(key: string): PathChild {
    const i = this.names.indexOf(key);
    return i < 0 ? this.other() : this.named(i);
  }

  /** The child for the array item at `index`. */
  item(index: number): PathChild {
    const i = this.indexes.indexOf(index);
    return i < 0 ? this.other() : this.named(i);
  }
}

export class PathAutomaton {
  /** The node of the document's root; null when a rule (`$`) names the whole document. */
  readonly root: PathNode;
  readonly wholeDocument: boolean;
  private readonly nodes = new Map<string, PathNode>();
  private readonly stride: number;

  constructor(readonly steps: readonly (readonly PathStep[])[]) {
    this.stride = Math.max(1, ...steps.map((s) => s.length + 1));
    this.wholeDocument = steps.some((s) => s.length === 0);
    this.root = this.node(steps.flatMap((s, i) => (s.length ? [i * this.stride] : [])));
  }

  rule(state: number): number {
    return Math.floor(state / this.stride);
  }

  matched(state: number): number {
    return state % this.stride;
  }

  /** The rules' decision for a child under `key` (undefined: a key no name matches) of a node with `states`. */
  next(states: readonly number[], key: string | undefined): PathChild {
    const next = new Set<number>();
    for (const state of states) {
      const steps = this.steps[this.rule(state)]!;
      const matched = this.matched(state);
      const step = steps[matched]!;
      if (step.key === undefined || step.key === key) {
        if (matched + 1 === steps.length) return null;
        next.add(state + 1);
      }
      if (step.descendant) next.add(state); // `..key` keeps looking at every depth below
    }
    return this.node([...next].sort((a, b) => a - b));
  }

  private node(states: number[]): PathNode {
    const id = states.join(',');
    let node = this.nodes.get(id);
    if (!node) this.nodes.set(id, (node = new PathNode(this, states)));
    return node;
  }
}
