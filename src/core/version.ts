/** Bumped with package.json; part of the daemon fingerprint and REAPI request metadata. */
export const TREWS_VERSION = '0.1.0';
