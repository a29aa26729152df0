/**
 * The jar's cookies grouped by domain field, and the walk that finds the buckets of every domain a
 * request host domain-matches (5.1.3): the host and its parents.
 *
 * Looking each parent up by name hashes every suffix of the host: O(n²) characters for a host of n
 * labels. It is the fastest way for the hosts of real sites, so it serves for the first
 * {@link FEW_LABELS} domains (at most that many times the host's length); a host with more labels is
 * walked down a tree of labels, read right to left, in one pass over the host. The tree is built when
 * the first such host comes, then kept up to date. It is compressed: a node is a domain with a bucket
 * or a fork between domains, and the edge into it holds every label in between, so it costs a few
 * objects per bucket however many labels a domain has.
 */
import type { Entry } from './entry.js';

interface DomainNode {
  /** The labels this node adds to its parent's domain, as written in a domain (`b.a`: `a`, then `b`). */
  edge: string;
  /** The number of labels of this node's domain. */
  depth: number;
  /** The cookies of this node's domain, in retrieval order; undefined for a fork. */
  bucket: Entry[] | undefined;
  /** Keyed by the last label of each child's edge (the first one read, right to left). */
  children: Map<string, DomainNode> | undefined;
}

const DOT = 0x2e;

/** Parent domains looked up by name before the walk goes down the tree instead. */
const FEW_LABELS = 8;

/** Where the `.` before the label of `s` that ends at `end` is; -1 for the first label. */
function labelStart(s: string, end: number): number {
  return end === 0 ? -1 : s.lastIndexOf('.', end - 1);
}

function lastLabel(s: string): string {
  return s.slice(s.lastIndexOf('.') + 1);
}

function labelCount(s: string): number {
  let n = 1;
  for (let i = s.indexOf('.'); i !== -1; i = s.indexOf('.', i + 1)) n++;
  return n;
}

/**
 * The length of the longest run of whole labels that ends both `s.slice(0, end)` and `edge`; at
 * least the last label when the two share it.
 */
function commonLabels(s: string, end: number, edge: string): number {
  let i = end - 1;
  let j = edge.length - 1;
  let whole = 0;
  for (; i >= 0 && j >= 0; i--, j--) {
    const c = edge.charCodeAt(j);
    if (s.charCodeAt(i) !== c) return whole;
    if (c === DOT) whole = edge.length - j - 1;
  }
  // One of the two ran out: the run ends on a label boundary if the other is at one too.
  if (j < 0) return i < 0 || s.charCodeAt(i) === DOT ? edge.length : whole;
  return edge.charCodeAt(j) === DOT ? edge.length - j - 1 : whole;
}

export class DomainBuckets {
  readonly #byDomain = new Map<string, Entry[]>();
  /** The tree of labels, once a host of many labels has come. */
  #root: DomainNode | undefined;
  readonly #fewLabels: number;

  /** @param fewLabels Domains looked up by name before the walk goes down the tree (tests vary it). */
  constructor(fewLabels = FEW_LABELS) {
    this.#fewLabels = fewLabels;
  }

  /** Domains looked up by name (the host and its parents) before a walk goes down the tree instead. */
  get fewLabels(): number {
    return this.#fewLabels;
  }

  /** The number of domains with cookies (a bucket goes when its last cookie does). */
  get size(): number {
    return this.#byDomain.size;
  }

  get(domain: string): Entry[] | undefined {
    return this.#byDomain.get(domain);
  }

  values(): IterableIterator<Entry[]> {
    return this.#byDomain.values();
  }

  /** A new, empty bucket for `domain`, which has none. */
  create(domain: string): Entry[] {
    const bucket: Entry[] = [];
    this.#byDomain.set(domain, bucket);
    if (this.#root !== undefined) this.#insert(this.#root, domain).bucket = bucket;
    return bucket;
  }

  /** The node of `domain`, added (and an edge split) when missing. */
  #insert(root: DomainNode, domain: string): DomainNode {
    let node = root;
    let end = domain.length;
    for (;;) {
      const key = domain.slice(labelStart(domain, end) + 1, end);
      const child = node.children?.get(key);
      if (child === undefined) {
        const edge = domain.slice(0, end);
        const leaf = { edge, depth: node.depth + labelCount(edge), bucket: undefined, children: undefined };
        node.children ??= new Map();
        node.children.set(key, leaf);
        return leaf;
      }
      const common = commonLabels(domain, end, child.edge);
      if (common < child.edge.length) {
        // Split the edge: a fork where the domain leaves it (or the domain's own node).
        const edge = child.edge.slice(child.edge.length - common);
        const fork: DomainNode = {
          edge,
          depth: node.depth + labelCount(edge),
          bucket: undefined,
          children: new Map(),
        };
        child.edge = child.edge.slice(0, child.edge.length - common - 1);
        fork.children!.set(lastLabel(child.edge), child);
        node.children!.set(key, fork);
        if (common === end) return fork;
        node = fork;
        end -= common + 1;
      } else {
        if (common === end) return child;
        node = child;
        end -= common + 1;
      }
    }
  }

  /** Removes the bucket of `domain`; a node left with no bucket and fewer than two children goes. */
  delete(domain: string): void {
    if (!this.#byDomain.delete(domain) || this.#root === undefined) return;
    let grandparent: DomainNode | undefined;
    let parent = this.#root;
    let node: DomainNode | undefined;
    for (let end = domain.length; ; ) {
      const child = parent.children?.get(domain.slice(labelStart(domain, end) + 1, end));
      const start = end - (child?.edge.length ?? 0);
      // Unreachable: every bucket has its node.
      if (child === undefined || start < 0) return;
      if (start === 0) {
        node = child;
        break;
      }
      grandparent = parent;
      parent = child;
      end = start - 1;
    }
    node.bucket = undefined;
    if (node.children === undefined) {
      const siblings = parent.children!;
      siblings.delete(lastLabel(node.edge));
      if (siblings.size === 0) parent.children = undefined;
      // A fork with one child left is no longer a fork.
      else if (grandparent !== undefined && parent.bucket === undefined && siblings.size === 1) {
        this.#merge(parent, grandparent);
      }
    } else if (node.children.size === 1) {
      this.#merge(node, parent);
    }
  }

  /** Replaces `node` (no bucket, one child) by its child, whose edge takes in `node`'s. */
  #merge(node: DomainNode, parent: DomainNode): void {
    const [child] = node.children!.values();
    child!.edge = `${child!.edge}.${node.edge}`;
    parent.children!.set(lastLabel(node.edge), child!);
  }

  /**
   * Puts into `out` (which must be empty) the bucket of every domain `host` domain-matches (5.1.3) and
   * returns the index of `host`'s own, or -1. An IP address matches itself only; a parent domain of
   * one label ("com") is a public suffix, which holds host-only cookies only, so it is left out.
   */
  match(host: string, isIp: boolean, out: Entry[][]): number {
    if (isIp) {
      const bucket = this.#byDomain.get(host);
      if (bucket === undefined) return -1;
      out.push(bucket);
      return 0;
    }
    // The host, then each parent of more than one label; down the tree instead after a few.
    let hostIndex = -1;
    for (let domain = host, lookups = 0; ; lookups++) {
      if (lookups === this.#fewLabels) {
        out.length = 0;
        return this.walkTree(host, out);
      }
      const bucket = this.#byDomain.get(domain);
      if (bucket !== undefined) {
        if (lookups === 0) hostIndex = 0;
        out.push(bucket);
      }
      const dot = domain.indexOf('.');
      if (dot === -1 || domain.indexOf('.', dot + 1) === -1) return hostIndex;
      domain = domain.slice(dot + 1);
    }
  }

  /**
   * {@link match} for a host that is not an IP address, down the tree (for a host of many labels): the
   * host's bucket comes last.
   */
  walkTree(host: string, out: Entry[][]): number {
    let node = this.#root ?? this.#build();
    for (let end = host.length; ; ) {
      const child = node.children?.get(host.slice(labelStart(host, end) + 1, end));
      if (child === undefined) return -1;
      // The whole edge, on a label boundary of the host.
      const start = end - child.edge.length;
      if (start < 0 || (start > 0 && host.charCodeAt(start - 1) !== DOT)) return -1;
      if (!host.startsWith(child.edge, start)) return -1;
      if (start === 0) {
        if (child.bucket === undefined) return -1;
        out.push(child.bucket);
        return out.length - 1;
      }
      if (child.bucket !== undefined && child.depth > 1) out.push(child.bucket);
      node = child;
      end = start - 1;
    }
  }

  #build(): DomainNode {
    const root: DomainNode = { edge: '', depth: 0, bucket: undefined, children: undefined };
    for (const [domain, bucket] of this.#byDomain) this.#insert(root, domain).bucket = bucket;
    this.#root = root;
    return root;
  }

  /** The nodes of the tree (none before it is built): at most two per bucket, however long the domains. */
  get nodeCount(): number {
    let n = 0;
    const pending = this.#root === undefined ? [] : [this.#root];
    for (let node = pending.pop(); node !== undefined; node = pending.pop()) {
      for (const child of node.children?.values() ?? []) {
        n++;
        pending.push(child);
      }
    }
    return n;
  }

  clear(): void {
    this.#byDomain.clear();
    this.#root = undefined;
  }
}
