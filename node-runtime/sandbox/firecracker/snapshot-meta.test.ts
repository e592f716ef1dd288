import { describe, expect, it } from "vitest";
import { parseCpuinfo, snapshotLoadProblems, type FirecrackerSnapshotMeta } from "./snapshot-meta.js";

const meta: FirecrackerSnapshotMeta = {
  format: 1,
  snapshotType: "Full",
  firecrackerVersion: "1.13.1",
  hostCpu: "AuthenticAMD family 25 model 1 stepping 1 (AMD EPYC 7713)",
  vcpus: 1,
  memoryMiB: 512,
  createdAt: "2026-01-01T00:00:00.000Z",
};
const here = { firecrackerVersion: "1.13.1", hostCpu: meta.hostCpu!, vcpus: 1, memoryMiB: 512 };

describe("Firecracker snapshot compatibility", () => {
  it("loads where version, CPU and machine match", () => {
    expect(snapshotLoadProblems(meta, here)).toEqual([]);
  });

  it("names every field that differs", () => {
    expect(
      snapshotLoadProblems(meta, { firecrackerVersion: "1.16.1", hostCpu: "GenuineIntel family 6 model 167 stepping 1 (x)", vcpus: 2, memoryMiB: 512 }),
    ).toEqual([
      "written by Firecracker 1.13.1, this is Firecracker 1.16.1",
      'taken on CPU "AuthenticAMD family 25 model 1 stepping 1 (AMD EPYC 7713)", this host has "GenuineIntel family 6 model 167 stepping 1 (x)"',
      "machine of 1 vCPU(s) and 512 MiB, the request asks for 2 and 512 MiB",
    ]);
  });

  it("refuses when the VMM's version is unknown or the snapshot recorded no CPU", () => {
    expect(snapshotLoadProblems({ ...meta, firecrackerVersion: "unknown" }, { ...here, firecrackerVersion: "unknown" })).toEqual([
      "written by Firecracker unknown, this is Firecracker unknown",
    ]);
    const { hostCpu: _, ...withoutCpu } = meta;
    expect(snapshotLoadProblems(withoutCpu, here)).toEqual(["no host CPU recorded"]);
  });

  it("describes x86 and Arm CPUs from /proc/cpuinfo's first processor", () => {
    const x86 =
      "processor\t: 0\nvendor_id\t: GenuineIntel\ncpu family\t: 6\nmodel\t\t: 167\nmodel name\t: Intel(R) Xeon(R) Processor\nstepping\t: 1\n\nprocessor\t: 1\nvendor_id\t: Other\n";
    expect(parseCpuinfo(x86)).toBe("GenuineIntel family 6 model 167 stepping 1 (Intel(R) Xeon(R) Processor)");
    const arm = "processor\t: 0\nBogoMIPS\t: 50.00\nCPU implementer\t: 0x41\nCPU architecture: 8\nCPU variant\t: 0x3\nCPU part\t: 0xd0c\nCPU revision\t: 1\n";
    expect(parseCpuinfo(arm)).toBe("Arm implementer 0x41 part 0xd0c variant 0x3 revision 1");
  });
});
