/**
 * The JSON `trews graph` hands its page: the contract between the goal
 * (src/goals/graph.ts builds it) and the page (app/, bundled for the browser).
 * Edges name nodes by index, which keeps a 10,000-target graph small.
 */
export interface GraphJson {
  readonly version: 1;
  /** The build root's directory name, for the page's title. */
  readonly title: string;
  /** The specs the graph was asked for (`::` by default). */
  readonly specs: readonly string[];
  /** Sorted by address. */
  readonly nodes: readonly GraphNode[];
  /** Sorted by (from, to). */
  readonly edges: readonly GraphEdge[];
  /** `--from`/`--to`: the page opens showing only the paths between them. */
  readonly focus: { readonly from: string; readonly to: string } | null;
}

export interface GraphNode {
  readonly address: string;
  readonly type: string;
  /** The directory of its BUILD file (or package.json), root-relative; '' at the root. */
  readonly dir: string;
  /** The directory of the package it belongs to: the nearest enclosing directory with a package.json target, else its top directory. */
  readonly package: string;
  /** The file that declares it (BUILD file, or package.json for a target inferred from one). */
  readonly declaredIn: string;
  /** For a file-generated target, its generator's address. */
  readonly generatedFrom?: string;
  /** Selected by the specs (the others are dependencies the selection reaches). */
  readonly selected: boolean;
}

/**
 * `explicit`: written in a BUILD file's `dependencies`; `generated`: a
 * generator to the target it generated; `inferred`: what a backend inferred
 * (imports, a package.json's dependencies).
 */
export type EdgeKind = 'explicit' | 'inferred' | 'generated';

export interface GraphEdge {
  /** Index in `nodes` of the dependent. */
  readonly from: number;
  /** Index in `nodes` of the dependency. */
  readonly to: number;
  readonly kind: EdgeKind;
}
