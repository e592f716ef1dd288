// Request bodies of the Firecracker API, as the v1.13.1 and v1.16.1 swagger specs define them
// (`definitions:` section). Only the resources this runtime configures are typed; field names stay
// snake_case so a body is the exact JSON Firecracker receives.

/** API versions whose specs this runtime is tested against. */
export type FirecrackerApiVersion = "1.13.1" | "1.16.1";

export interface MachineConfiguration {
  vcpu_count: number;
  mem_size_mib: number;
  smt?: boolean;
  /** Needed before boot for Diff snapshots of the booted VM. */
  track_dirty_pages?: boolean;
  huge_pages?: "None" | "2M";
}

export interface BootSource {
  kernel_image_path: string;
  boot_args?: string;
  initrd_path?: string;
}

export interface Drive {
  drive_id: string;
  is_root_device: boolean;
  path_on_host?: string;
  is_read_only?: boolean;
  partuuid?: string;
  cache_type?: "Unsafe" | "Writeback";
  io_engine?: "Sync" | "Async";
}

export interface NetworkInterface {
  iface_id: string;
  host_dev_name: string;
  guest_mac?: string;
  /** v1.16.1 only; v1.13.1 rejects the field. */
  mtu?: number;
}

export interface InstanceActionInfo {
  action_type: "InstanceStart" | "FlushMetrics" | "SendCtrlAltDel";
}

export interface VmState {
  state: "Paused" | "Resumed";
}

export type SnapshotType = "Full" | "Diff";

export interface SnapshotCreateParams {
  snapshot_path: string;
  mem_file_path: string;
  /** Full when absent. */
  snapshot_type?: SnapshotType;
}

export interface MemoryBackend {
  backend_type: "File" | "Uffd";
  /** File: the guest memory file. Uffd: the Unix socket of the page-fault handler. */
  backend_path: string;
}

export interface NetworkOverride {
  iface_id: string;
  host_dev_name: string;
}

export interface SnapshotLoadParams {
  snapshot_path: string;
  /** Exactly one of `mem_backend` and the deprecated `mem_file_path`; we always send `mem_backend`. */
  mem_backend?: MemoryBackend;
  mem_file_path?: string;
  /** Both specs; replaces the deprecated `enable_diff_snapshots`. */
  track_dirty_pages?: boolean;
  enable_diff_snapshots?: boolean;
  resume_vm?: boolean;
  network_overrides?: NetworkOverride[];
  /** v1.16.1 only. */
  clock_realtime?: boolean;
  vsock_override?: { uds_path: string };
}

export interface InstanceInfo {
  app_name: string;
  id: string;
  state: "Not started" | "Running" | "Paused";
  vmm_version: string;
}

export interface FirecrackerVersion {
  firecracker_version: string;
}

/** Firecracker's error body: every 4xx/5xx carries it. */
export interface FirecrackerError {
  fault_message?: string;
}
