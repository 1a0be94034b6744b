export type { EdgeKind, GraphEdge, GraphJson, GraphNode } from './graph-json.js';
export { adjacency, between, chooseBaseDepth, clusterOf, colourOf, layoutEdges, reach, type Adjacency } from './model.js';
export { renderGraphPage, renderTimelinePage } from './page-html.js';
export {
  assignLanes,
  compareRuns,
  parseTrace,
  totalsBySource,
  type RunChange,
  type SourceTotal,
  type TimelineBar,
  type TimelineJson,
  type TimelineRun,
} from './timeline.js';
export { consumedOutputs, criticalPath, diffFiles, type FileChange, type InputDiff } from './run-analysis.js';
