export type { EdgeKind, GraphEdge, GraphJson, GraphNode } from './graph-json.js';
export { adjacency, between, chooseBaseDepth, clusterOf, colourOf, reach, type Adjacency } from './model.js';
export { renderGraphPage } from './page-html.js';
