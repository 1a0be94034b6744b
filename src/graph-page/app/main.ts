// The page of `trews graph`: bundled with cytoscape and dagre into one script
// (scripts/bundle.mjs) that the goal inlines into the HTML. It reads the
// graph's JSON from the page itself and makes no request.
import cytoscape from 'cytoscape';
import { readGraph } from './read-graph.js';
import { createView } from './view.js';
import { followServer } from './follow.js';

const data = readGraph(document);
const view = createView(document, data, cytoscape);
// For the browser test and for curious users in the console.
(window as unknown as { trewsGraph: unknown }).trewsGraph = view;
followServer(document);
