/**
 * Pytrees: nested arrays and plain objects whose leaves are tensors (or numbers). They let a model's
 * parameters be one object, `{ W1, b1, W2, b2 }`, that every transformation accepts and returns in
 * the same structure.
 *
 * @module
 */
import { Tensor } from './tensor.ts';

/** A leaf, or an array or plain object of pytrees. `null` and `undefined` are empty nodes. */
export type Pytree = Tensor | number | null | undefined | readonly Pytree[] | { readonly [key: string]: Pytree };

/** The structure of a pytree with its leaves taken out. */
export type TreeDef = LeafDef | NoneDef | ArrayDef | ObjectDef;
/** A leaf position (a tensor or a number). */
export interface LeafDef {
  /** Always `'leaf'`. */
  kind: 'leaf';
}
/** An empty node, `null` or `undefined`, kept as it was. */
export interface NoneDef {
  /** Always `'none'`. */
  kind: 'none';
  /** The original value. */
  value: null | undefined;
}
/** An array node. */
export interface ArrayDef {
  /** Always `'array'`. */
  kind: 'array';
  /** One structure per element. */
  children: TreeDef[];
}
/** A plain-object node. */
export interface ObjectDef {
  /** Always `'object'`. */
  kind: 'object';
  /** The keys, in insertion order. */
  keys: string[];
  /** One structure per key. */
  children: TreeDef[];
}

function isPlainObject(x: unknown): x is Record<string, Pytree> {
  if (typeof x !== 'object' || x === null) return false;
  const proto = Object.getPrototypeOf(x);
  return proto === Object.prototype || proto === null;
}

/** A pytree taken apart: its leaves in order, and its structure. */
export interface Flattened {
  /** The leaves, depth-first, object keys in insertion order. */
  leaves: (Tensor | number)[];
  /** The structure, for `treeUnflatten`. */
  def: TreeDef;
}

/**
 * The deepest nesting a pytree may have. Real parameter trees are a few levels deep; the limit turns
 * a runaway structure (a linked list of 10,000 nodes, say) into an error that says so instead of a
 * stack overflow.
 */
export const MAX_TREE_DEPTH = 1000;

/** A path like `argument[0].layers[2].W`, elided in the middle when it is long. */
function showPath(segments: readonly string[]): string {
  if (segments.length <= 12) return segments.join('');
  return `${segments.slice(0, 6).join('')}…(${segments.length - 11} more)…${segments.slice(-5).join('')}`;
}

/**
 * Splits a pytree into its leaves (depth-first, object keys in insertion order) and its structure.
 * A node may be shared by several branches, but a cycle (a node inside itself) and nesting deeper
 * than {@link MAX_TREE_DEPTH} levels are errors naming the path.
 *
 * @example
 * ```ts
 * const { leaves, def } = treeFlatten({ w: tensor([1, 2]), b: 0 });
 * leaves.length;                 // 2
 * treeUnflatten(def, leaves);    // { w: Tensor, b: 0 }
 * const loop: any = { w: tensor(1) };
 * loop.self = loop;
 * treeFlatten(loop);             // throws: argument.self: the pytree contains a cycle …
 * ```
 */
export function treeFlatten(tree: Pytree, path = 'argument'): Flattened {
  const leaves: (Tensor | number)[] = [];
  const segments: string[] = [path];
  const ancestors = new Map<object, number>(); // node → its depth on the current path
  const walk = (t: Pytree): TreeDef => {
    if (t instanceof Tensor || typeof t === 'number') {
      leaves.push(t);
      return { kind: 'leaf' };
    }
    if (t === null || t === undefined) return { kind: 'none', value: t };
    const isArray = Array.isArray(t);
    if (!isArray && !isPlainObject(t)) {
      throw new Error(
        `${showPath(segments)}: expected a Tensor, a number, or an array or plain object of them, got ${(t as object).constructor?.name ?? typeof t}`,
      );
    }
    const seenAt = ancestors.get(t);
    if (seenAt !== undefined) {
      throw new Error(
        `${showPath(segments)}: the pytree contains a cycle: this ${isArray ? 'array' : 'object'} is ` +
          `${showPath(segments.slice(0, seenAt + 1))} itself; a pytree must be a tree (copy the shared part or remove the back-reference)`,
      );
    }
    if (segments.length > MAX_TREE_DEPTH) {
      throw new Error(
        `${showPath(segments)}: the pytree is nested more than ${MAX_TREE_DEPTH} levels deep; ` +
          'pass a flatter structure (e.g. an array of tensors instead of a linked list)',
      );
    }
    ancestors.set(t, segments.length - 1);
    const child = (seg: string, c: Pytree): TreeDef => {
      segments.push(seg);
      const d = walk(c);
      segments.pop();
      return d;
    };
    let def: TreeDef;
    if (isArray) def = { kind: 'array', children: (t as readonly Pytree[]).map((c, i) => child(`[${i}]`, c)) };
    else {
      const o = t as Record<string, Pytree>;
      const keys = Object.keys(o);
      def = { kind: 'object', keys, children: keys.map((k) => child(`.${k}`, o[k])) };
    }
    ancestors.delete(t);
    return def;
  };
  const def = walk(tree);
  return { leaves, def };
}

/**
 * Rebuilds a pytree of the given structure from leaves (the inverse of `treeFlatten`).
 *
 * @example
 * ```ts
 * const { leaves, def } = treeFlatten([tensor(1), { a: tensor(2) }]);
 * treeUnflatten(def, leaves.map((x) => x)); // the same structure back
 * ```
 */
export function treeUnflatten<T = Pytree>(def: TreeDef, leaves: readonly (Tensor | number)[]): T {
  let i = 0;
  const build = (d: TreeDef): Pytree => {
    switch (d.kind) {
      case 'leaf':
        if (i >= leaves.length) throw new Error('treeUnflatten: too few leaves for the structure');
        return leaves[i++]!;
      case 'none':
        return d.value;
      case 'array':
        return d.children.map(build);
      case 'object': {
        const out: Record<string, Pytree> = {};
        d.keys.forEach((k, j) => (out[k] = build(d.children[j]!)));
        return out;
      }
    }
  };
  const out = build(def);
  if (i !== leaves.length) throw new Error(`treeUnflatten: ${leaves.length} leaves given, the structure holds ${i}`);
  return out as T;
}

/**
 * Applies `fn` to every leaf, keeping the structure.
 *
 * @example
 * ```ts
 * treeMap((x) => mul(x, 2), { w: tensor([1, 2]) }); // { w: [2, 4] }
 * ```
 */
export function treeMap<T = Pytree>(fn: (leaf: Tensor | number, i: number) => Tensor | number, tree: Pytree): T {
  const { leaves, def } = treeFlatten(tree);
  return treeUnflatten<T>(def, leaves.map(fn));
}

/** Whether two tree structures are the same (same kinds, keys and lengths). */
export function treeDefsEqual(a: TreeDef, b: TreeDef): boolean {
  if (a.kind !== b.kind) return false;
  if (a.kind === 'array' && b.kind === 'array') {
    return a.children.length === b.children.length && a.children.every((c, i) => treeDefsEqual(c, b.children[i]!));
  }
  if (a.kind === 'object' && b.kind === 'object') {
    return a.keys.length === b.keys.length && a.keys.every((k, i) => k === b.keys[i] && treeDefsEqual(a.children[i]!, b.children[i]!));
  }
  return true;
}
