import type * as grpc from "@grpc/grpc-js";
import type { Orchestrator } from "../orchestrator/orchestrator.js";
import { grpcAddress } from "../orchestrator/function-client.js";
import { unary } from "./grpc-status.js";

interface StartVMReq {
  image: string;
  id: string;
}
interface StopVMsReq {
  all_vms: boolean;
}
interface StopSingleVMReq {
  id: string;
}
interface Status {
  message: string;
}

/**
 * vHive's Orchestrator service on top of ours: StartVM starts instance `id` of image `image` with the
 * node's default sandbox and snapshot mode (revision per image digest); StopSingleVM stops it;
 * StopVMs stops every instance and leaves the process running.
 */
export function vhiveOrchestratorHandlers(orchestrator: Orchestrator, onError?: (err: unknown) => void): grpc.UntypedServiceImplementation {
  return {
    StartVM: unary<StartVMReq, Status>(async (req) => {
      const info = await orchestrator.start({ image: req.image, instanceId: req.id || undefined });
      const where = info.endpoint ? grpcAddress(info.endpoint) : "unknown";
      return { message: `started instance ${info.instanceId} of revision ${info.revision} by ${info.startKind}, function at ${where}` };
    }, onError),
    StopSingleVM: unary<StopSingleVMReq, Status>(async (req) => {
      const res = await orchestrator.stop(req.id);
      return { message: `stopped instance ${res.instanceId} (snapshot: ${res.snapshot}${res.snapshotError ? `, ${res.snapshotError}` : ""})` };
    }, onError),
    StopVMs: unary<StopVMsReq, Status>(async () => {
      const results = await orchestrator.stopAll();
      const failed = results.filter((r) => r.snapshot === "failed");
      return { message: `stopped ${results.length} instances${failed.length ? ` (${failed.length} with errors)` : ""}; the runtime keeps running` };
    }, onError),
  };
}
