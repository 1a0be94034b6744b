// `trews remote-server`: a REAPI v2 server over the local store and sandbox runner.
export { createRemoteServer, type RemoteServer, type RemoteServerOptions } from './server.js';
export { HIGH_API_VERSION, LOW_API_VERSION, MAX_BATCH_TOTAL_BYTES } from './capabilities.js';
export { REQUEST_METADATA_KEY } from './request-metadata.js';
