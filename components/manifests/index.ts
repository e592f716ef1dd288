export type { IngressKind, K8sObject, PoolKind, SandboxKind } from "./types.js";
