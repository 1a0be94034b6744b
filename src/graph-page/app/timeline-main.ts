// The page of `trews graph --runs`: a recorded run as a timeline, drawn in
// plain SVG (no library: rectangles in rows need none). It reads the run's
// JSON from the page itself and makes no request.
import type { TimelineJson } from '../timeline.js';
import { createTimeline } from './timeline-view.js';

const el = document.getElementById('trews-timeline-data');
if (el === null || el.textContent === null) throw new Error('trews graph --runs: the page holds no run');
const view = createTimeline(document, JSON.parse(el.textContent) as TimelineJson);
// For the browser test and for curious users in the console.
(window as unknown as { trewsTimeline: unknown }).trewsTimeline = view;
