import { createHash } from 'node:crypto';
import { deserialize, serialize } from 'node:v8';
import type { PersistedGraph } from '../engine/index.js';
import type { PathStamps } from '../fs/index.js';

/** What a graph file holds: the engine's graph and the stamps of the paths it read. */
export interface GraphPayload {
  readonly graph: PersistedGraph;
  readonly stamps: PathStamps;
}

/**
 * `.trews.d/graph`, byte by byte:
 *
 *     MAGIC | header length (u32, little-endian) | header (JSON) | graph | values
 *
 * The header holds the fingerprint (graph-file.ts: what the file is only good
 * for), the lengths of the two sections and the SHA-256 of both. `graph` is
 * v8.serialize of the payload without the records' values; `values` is the
 * records' serialized values end to end (PersistedGraph.valueBytes), as is.
 * Reading the file back makes no copy of it: `valueBytes` is a view of the
 * bytes read, and the graph is deserialized from a view. (The format before
 * it nested the payload in a second v8.serialize: 17 MB of fresh memory
 * touched to load a 6 MB file, a third of the load's time.)
 */
export const GRAPH_FILE_MAGIC = Buffer.from('trews-graph/3\n');
const LENGTH_AT = GRAPH_FILE_MAGIC.length;
const HEADER_AT = LENGTH_AT + 4;

interface Header {
  readonly fingerprint: string;
  readonly sha256: string;
  readonly graphBytes: number;
  readonly valueBytes: number;
}

/** The file's bytes. */
export function encodeGraphFile(fingerprint: string, payload: GraphPayload): Buffer {
  const { valueBytes, ...rest } = payload.graph;
  const graph = serialize({ graph: rest, stamps: payload.stamps });
  const values = Buffer.from(valueBytes.buffer, valueBytes.byteOffset, valueBytes.byteLength);
  const sha256 = createHash('sha256').update(graph).update(values).digest('hex');
  const header = Buffer.from(JSON.stringify({ fingerprint, sha256, graphBytes: graph.length, valueBytes: values.length } satisfies Header));
  const length = Buffer.alloc(4);
  length.writeUInt32LE(header.length);
  return Buffer.concat([GRAPH_FILE_MAGIC, length, header, graph, values]);
}

/** Why a file is not loaded, in words for the log (`graph: ignoring …: <why>`). */
export type GraphFileVerdict = { readonly ok: true; readonly payload: GraphPayload } | { readonly ok: false; readonly why: string };

/** The payload of a graph file made for `fingerprint`, or why there is none. */
export function decodeGraphFile(bytes: Buffer, fingerprint: string): GraphFileVerdict {
  const no = (why: string): GraphFileVerdict => ({ ok: false, why });
  if (bytes.length < HEADER_AT || !bytes.subarray(0, LENGTH_AT).equals(GRAPH_FILE_MAGIC)) return no('not a graph file of this format');
  const headerEnd = HEADER_AT + bytes.readUInt32LE(LENGTH_AT);
  if (headerEnd > bytes.length) return no('damaged or truncated');
  let header: Partial<Header>;
  try {
    header = JSON.parse(bytes.subarray(HEADER_AT, headerEnd).toString('utf8')) as Partial<Header>;
  } catch {
    return no('damaged or truncated');
  }
  const { graphBytes, valueBytes } = header;
  if (typeof header.sha256 !== 'string' || !Number.isSafeInteger(graphBytes) || !Number.isSafeInteger(valueBytes) || graphBytes! < 0 || valueBytes! < 0) return no('damaged or truncated');
  if (header.fingerprint !== fingerprint) return no('made by another build of trews, for other options or for another state of the local store');
  const valuesAt = headerEnd + graphBytes!;
  if (valuesAt + valueBytes! !== bytes.length) return no('damaged or truncated');
  const graph = bytes.subarray(headerEnd, valuesAt);
  const values = bytes.subarray(valuesAt);
  if (createHash('sha256').update(graph).update(values).digest('hex') !== header.sha256) return no('damaged (its checksum does not match)');
  try {
    const inner = deserialize(graph) as { graph?: Omit<PersistedGraph, 'valueBytes'>; stamps?: unknown };
    if (typeof inner.graph !== 'object' || inner.graph === null || !(inner.stamps instanceof Map)) return no('not a graph file of this format');
    return { ok: true, payload: { graph: { ...inner.graph, valueBytes: values }, stamps: inner.stamps as PathStamps } };
  } catch {
    return no('damaged or truncated');
  }
}
