import { describe, expect, it } from "vitest";
import { parseIdFile, resolveUser } from "./image-user.js";

const passwd = parseIdFile("root:x:0:0:root:/root:/bin/sh\n# comment\nnobody:x:65534:65534::/:/bin/false\napp:x:1000:1001::/app:/bin/sh\nbroken\n", "passwd");
const groups = parseIdFile("root:x:0:\nnogroup:x:65534:\nstaff:x:50:app\n", "group");

describe("resolveUser", () => {
  it("resolves names, numbers and user:group pairs as container engines do", () => {
    expect(resolveUser("", passwd, groups)).toEqual({ uid: 0, gid: 0 });
    expect(resolveUser("nobody", passwd, groups)).toEqual({ uid: 65534, gid: 65534 });
    expect(resolveUser("1000", passwd, groups)).toEqual({ uid: 1000, gid: 1001 });
    expect(resolveUser("4242", passwd, groups)).toEqual({ uid: 4242, gid: 0 });
    expect(resolveUser("app:staff", passwd, groups)).toEqual({ uid: 1000, gid: 50 });
    expect(resolveUser("1000:7", passwd, groups)).toEqual({ uid: 1000, gid: 7 });
  });

  it("names the user or group the image lacks", () => {
    expect(() => resolveUser("ghost", passwd, groups)).toThrow(`image user "ghost" is not in the image's /etc/passwd`);
    expect(() => resolveUser("app:ghosts", passwd, groups)).toThrow(`image group "ghosts" is not in the image's /etc/group`);
  });
});
