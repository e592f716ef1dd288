import { describe, expect, it } from "vitest";
import { meanStd, vhiveCsv } from "./vhive-csv.js";

describe("vhiveCsv", () => {
  it("writes vHive's bench layout: FuncName, sorted stages each with StdDev, Total with StdDev", () => {
    const csv = vhiveCsv([
      {
        funcName: "hello/gvisor/restore",
        samples: [
          { LoadVMM: 100, AddInstance: 300 },
          { LoadVMM: 200, AddInstance: 400 },
        ],
      },
      { funcName: "hello/gvisor/boot", samples: [{ NewTask: 900, AddInstance: 1000 }] },
    ]);
    expect(csv).toBe(
      [
        "FuncName,AddInstance,StdDev,LoadVMM,StdDev,NewTask,StdDev,Total,StdDev",
        "hello/gvisor/restore,350,70.7,150,70.7,0,0.0,500,141.4",
        "hello/gvisor/boot,1000,0.0,0,0.0,900,0.0,1900,0.0",
        "",
      ].join("\n"),
    );
  });

  it("uses the sample standard deviation and truncates means to whole µs", () => {
    expect(meanStd([1, 2, 4])).toEqual({ mean: 7 / 3, std: Math.sqrt(((1 - 7 / 3) ** 2 + (2 - 7 / 3) ** 2 + (4 - 7 / 3) ** 2) / 2) });
    expect(vhiveCsv([{ funcName: "f", samples: [{ GetImage: 1 }, { GetImage: 2 }, { GetImage: 4 }] }]).split("\n")[1]).toBe("f,2,1.5,2,1.5");
  });
});
