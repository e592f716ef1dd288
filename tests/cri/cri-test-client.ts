import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { unmetNeeds } from "../requirements.js";
import { CRI_SPEC, upstreamSpecPath } from "../upstream-specs.js";

// A CRI client for tests, generated at run time from the upstream CRI spec (tests/upstream-specs.ts).
// It plays kubelet's part: typed calls in, typed responses out. The spec is read on first use, so a
// test that skips without it can still import this file.

interface CriPackage {
  definition: protoLoader.PackageDefinition;
  runtime: { v1: { RuntimeService: grpc.ServiceClientConstructor; ImageService: grpc.ServiceClientConstructor } };
}

let loaded: CriPackage | undefined;

function criPackage(): CriPackage {
  if (loaded === undefined) {
    const missing = unmetNeeds({ specs: [CRI_SPEC] });
    if (missing.length > 0) throw new Error(`CRI test client: ${missing.join("; ")}`);
    const definition = protoLoader.loadSync(upstreamSpecPath(CRI_SPEC), { keepCase: false, longs: String, enums: String, defaults: true, oneofs: true });
    const pkg = grpc.loadPackageDefinition(definition) as unknown as Pick<CriPackage, "runtime">;
    loaded = { definition, runtime: pkg.runtime };
  }
  return loaded;
}

/** The spec's serializers for a method, to compare raw bytes in tests. */
export function methodCodec(service: "RuntimeService" | "ImageService", method: string) {
  const m = (criPackage().definition[`runtime.v1.${service}`] as Record<string, protoLoader.MethodDefinition<object, object>>)[method];
  if (!m) throw new Error(`no CRI method ${service}/${method}`);
  return m;
}

export class CriTestClient {
  readonly runtime: grpc.Client;
  readonly image: grpc.Client;

  constructor(socketPath: string) {
    const target = `unix://${socketPath}`;
    const { runtime } = criPackage();
    this.runtime = new runtime.v1.RuntimeService(target, grpc.credentials.createInsecure());
    this.image = new runtime.v1.ImageService(target, grpc.credentials.createInsecure());
  }

  call<T = Record<string, unknown>>(method: string, request: object, timeoutMs = 60_000): Promise<T> {
    const client = /^(ListImages|ImageStatus|PullImage|RemoveImage|ImageFsInfo)$/.test(method) ? this.image : this.runtime;
    const fn = (client as unknown as Record<string, ((...args: unknown[]) => unknown) | undefined>)[method];
    if (!fn) throw new Error(`no CRI method ${method}`);
    return new Promise((resolvePromise, reject) => {
      fn.call(client, request, { deadline: Date.now() + timeoutMs }, (err: grpc.ServiceError | null, res: T) => (err ? reject(err) : resolvePromise(res)));
    });
  }

  close(): void {
    this.runtime.close();
    this.image.close();
  }
}
