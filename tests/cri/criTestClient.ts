import { fileURLToPath } from "node:url";
import { resolve } from "node:path";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";

// A CRI client for tests, generated at run time from the upstream CRI spec in ../shared/specs.
// It plays kubelet's part: typed calls in, typed responses out.

export const CRI_SPEC = resolve(fileURLToPath(new URL("../../", import.meta.url)), "../shared/specs/cri/api-v0.35.0.proto");

const definition = protoLoader.loadSync(CRI_SPEC, { keepCase: false, longs: String, enums: String, defaults: true, oneofs: true });
const pkg = grpc.loadPackageDefinition(definition) as unknown as {
  runtime: { v1: { RuntimeService: grpc.ServiceClientConstructor; ImageService: grpc.ServiceClientConstructor } };
};

/** The spec's serializers for a method, to compare raw bytes in tests. */
export function methodCodec(service: "RuntimeService" | "ImageService", method: string) {
  const m = (definition[`runtime.v1.${service}`] as Record<string, protoLoader.MethodDefinition<object, object>>)[method];
  if (!m) throw new Error(`no CRI method ${service}/${method}`);
  return m;
}

export class CriTestClient {
  readonly runtime: grpc.Client;
  readonly image: grpc.Client;

  constructor(socketPath: string) {
    const target = `unix://${socketPath}`;
    this.runtime = new pkg.runtime.v1.RuntimeService(target, grpc.credentials.createInsecure());
    this.image = new pkg.runtime.v1.ImageService(target, grpc.credentials.createInsecure());
  }

  call<T = Record<string, unknown>>(method: string, request: object, timeoutMs = 60_000): Promise<T> {
    const client = /^(ListImages|ImageStatus|PullImage|RemoveImage|ImageFsInfo)$/.test(method) ? this.image : this.runtime;
    const fn = (client as unknown as Record<string, Function>)[method];
    if (!fn) throw new Error(`no CRI method ${method}`);
    return new Promise((resolvePromise, reject) => {
      fn.call(client, request, { deadline: Date.now() + timeoutMs }, (err: grpc.ServiceError | null, res: T) =>
        err ? reject(err) : resolvePromise(res),
      );
    });
  }

  close(): void {
    this.runtime.close();
    this.image.close();
  }
}
