import { fromBinary, toBinary, type DescMethod, type DescService } from '@bufbuild/protobuf';
import type { MethodDefinition, ServiceDefinition } from '@grpc/grpc-js';

/**
 * A @grpc/grpc-js service definition built from a protobuf-es service
 * descriptor, so client and server share one wire format with the generated
 * messages and no second code generator. Methods are keyed by their localName
 * (`findMissingBlobs`); the path is the canonical `/package.Service/Method`.
 */
export function grpcServiceDefinition(service: DescService): ServiceDefinition {
  const def: Record<string, MethodDefinition<unknown, unknown>> = {};
  for (const method of service.methods) def[method.localName] = methodDefinition(service, method);
  return def as ServiceDefinition;
}

function methodDefinition(service: DescService, method: DescMethod): MethodDefinition<unknown, unknown> {
  const input = method.input;
  const output = method.output;
  return {
    path: `/${service.typeName}/${method.name}`,
    requestStream: method.methodKind === 'client_streaming' || method.methodKind === 'bidi_streaming',
    responseStream: method.methodKind === 'server_streaming' || method.methodKind === 'bidi_streaming',
    requestSerialize: (m: unknown) => Buffer.from(toBinary(input, m as never)),
    requestDeserialize: (b: Buffer) => fromBinary(input, b),
    responseSerialize: (m: unknown) => Buffer.from(toBinary(output, m as never)),
    responseDeserialize: (b: Buffer) => fromBinary(output, b),
    originalName: method.localName,
  };
}
