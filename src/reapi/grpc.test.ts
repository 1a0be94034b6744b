import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { create } from '@bufbuild/protobuf';
import * as grpc from '@grpc/grpc-js';
import {
  CapabilitiesService,
  DigestFunction_Value,
  GetCapabilitiesRequestSchema,
  ServerCapabilitiesSchema,
  type GetCapabilitiesRequest,
  type ServerCapabilities,
} from './index.js';
import { grpcServiceDefinition } from './grpc.js';

describe('grpcServiceDefinition', () => {
  it('derives paths and streaming kinds from the descriptor', () => {
    const def = grpcServiceDefinition(CapabilitiesService);
    assert.equal(def.getCapabilities!.path, '/build.bazel.remote.execution.v2.Capabilities/GetCapabilities');
    assert.equal(def.getCapabilities!.requestStream, false);
    assert.equal(def.getCapabilities!.responseStream, false);
  });

  it('round-trips a unary call over a real server on 127.0.0.1', async () => {
    const def = grpcServiceDefinition(CapabilitiesService);
    const server = new grpc.Server();
    server.addService(def, {
      getCapabilities(call: grpc.ServerUnaryCall<GetCapabilitiesRequest, ServerCapabilities>, cb: grpc.sendUnaryData<ServerCapabilities>) {
        cb(null, create(ServerCapabilitiesSchema, { cacheCapabilities: { digestFunctions: [DigestFunction_Value.SHA256], maxBatchTotalSizeBytes: BigInt(call.request.instanceName.length) } }));
      },
    });
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))),
    );
    try {
      const Client = grpc.makeGenericClientConstructor(def, 'Capabilities');
      const client = new Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure()) as unknown as {
        getCapabilities(req: GetCapabilitiesRequest, cb: (e: grpc.ServiceError | null, r?: ServerCapabilities) => void): void;
        close(): void;
      };
      const res = await new Promise<ServerCapabilities>((resolve, reject) =>
        client.getCapabilities(create(GetCapabilitiesRequestSchema, { instanceName: 'main' }), (e, r) => (e ? reject(e) : resolve(r!))),
      );
      assert.deepEqual(res.cacheCapabilities?.digestFunctions, [DigestFunction_Value.SHA256]);
      assert.equal(res.cacheCapabilities?.maxBatchTotalSizeBytes, 4n);
      client.close();
    } finally {
      await new Promise<void>((r) => server.tryShutdown(() => r()));
    }
  });
});
