import { fileURLToPath } from "node:url";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";

const protoPath = (name: string) => fileURLToPath(new URL(`./protos/${name}`, import.meta.url));

// snake_case field names as in the .proto files; 64-bit integers as JS numbers (sizes fit in 2^53).
const LOADER_OPTIONS: protoLoader.Options = { keepCase: true, longs: Number, enums: String, defaults: true, oneofs: true };

type ServiceCtor = grpc.ServiceClientConstructor;

export interface ApiDefinitions {
  vhiveOrchestrator: ServiceCtor;
  nodeRuntime: ServiceCtor;
}

let cached: ApiDefinitions | undefined;

export function apiDefinitions(): ApiDefinitions {
  if (!cached) {
    const vhive = grpc.loadPackageDefinition(protoLoader.loadSync(protoPath("orchestrator.proto"), LOADER_OPTIONS)) as unknown as {
      proto: { Orchestrator: ServiceCtor };
    };
    const ours = grpc.loadPackageDefinition(protoLoader.loadSync(protoPath("node_runtime.proto"), LOADER_OPTIONS)) as unknown as {
      noderuntime: { v1: { NodeRuntime: ServiceCtor } };
    };
    cached = { vhiveOrchestrator: vhive.proto.Orchestrator, nodeRuntime: ours.noderuntime.v1.NodeRuntime };
  }
  return cached;
}
