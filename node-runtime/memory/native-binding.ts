import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";

/** Event posted by the native threads (see native/handler.h for when each kind is sent). */
export interface NativeEvent {
  kind: "handshake" | "serving" | "installed" | "failed" | "exited" | "warning";
  error: boolean;
  /** Handshake JSON (latin-1 decoded bytes) or an error / exit reason. */
  message?: string;
  fdCount: number;
  peerPid: number;
  killedPid: number;
  /** installed: from the start of the stream until its last read completed. */
  fetchUs: number;
  /** installed: time the fault thread spent installing chunks. */
  installUs: number;
  /** installed: from the start of the stream until the set was installed and verified. */
  streamUs: number;
  installedPages: number;
  /** failed: the working set failed its checksum (or a read) after pages of it were installed. */
  workingSetBad: boolean;
}

export interface NativeServeConfig {
  regions: { hostBase: number; size: number; offset: number }[];
  pageSize: number;
  /** 0 lazy, 1 record, 2 prefetch (native enum vhuf_mode). */
  mode: 0 | 1 | 2;
  workingSetPath?: string;
  /** Killed by the fault thread on a fatal error; 0 = use the socket peer's pid. */
  vmmPid: number;
  /** CPU to pin the fault thread to; -1 = no pinning. */
  cpu: number;
  /** SCHED_FIFO priority of the fault thread; absent or 0 = normal scheduling. */
  rtPriority?: number;
}

export interface NativeStats {
  faults: number;
  copiedPages: number;
  zeroPages: number;
  alreadyPresent: number;
  eagainRetries: number;
  removeEvents: number;
  removedPages: number;
  uniquePages: number;
  workingSetFaults: number;
  serveUs: number;
  installedPages: number;
  installIoctls: number;
  /** Prefetch: faults held until the working set's index had been read. */
  parkedFaults: number;
  /** Prefetch: 1 if this load took the working set from a read another load had started. */
  joinedFetch: number;
  recordedPages: number;
  memFileSize: number;
}

declare const handleBrand: unique symbol;
export type NativeHandle = { readonly [handleBrand]: true };

export interface UffdNative {
  /** VHUF_ABI_VERSION of the build (absent before version 2). */
  abiVersion?: number;
  createHandler(socketPath: string, memFilePath: string, handshakeTimeoutMs: number, onEvent: (e: NativeEvent) => void): NativeHandle;
  serve(h: NativeHandle, cfg: NativeServeConfig): void;
  stats(h: NativeHandle): NativeStats;
  stopRecording(h: NativeHandle): Uint32Array;
  readPages(h: NativeHandle, pages: Uint32Array): Buffer;
  hash64(data: Uint8Array): bigint;
  close(h: NativeHandle): void;
}

export const NATIVE_ADDON_PATH = join(dirname(fileURLToPath(import.meta.url)), "native", "build", "Release", "vhuf_uffd.node");
/** The native ABI these bindings speak (VHUF_ABI_VERSION in native/addon.c). */
export const NATIVE_ABI_VERSION = 3;

let cached: UffdNative | undefined;

/** Loads the addon once; a missing build gets an error that says how to build it. */
export function loadUffdNative(): UffdNative {
  if (cached) return cached;
  let loaded: UffdNative;
  try {
    loaded = createRequire(import.meta.url)(NATIVE_ADDON_PATH) as UffdNative;
  } catch (err) {
    throw new Error(`userfaultfd addon not loadable from ${NATIVE_ADDON_PATH} (build it with "npm run build:native"): ${(err as Error).message}`);
  }
  // A build left from older sources would post events these bindings no longer wait for.
  if (loaded.abiVersion !== NATIVE_ABI_VERSION) {
    throw new Error(
      `userfaultfd addon at ${NATIVE_ADDON_PATH} was built from other sources (ABI ${loaded.abiVersion ?? 1}, these bindings need ${NATIVE_ABI_VERSION}): rebuild it with "npm run build:native"`,
    );
  }
  cached = loaded;
  return cached;
}
