export { renderFailure } from './diagnostic.js';
