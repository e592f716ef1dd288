import { readFile } from "node:fs/promises";
import path from "node:path";

/**
 * Resolves an image config's User ("", "uid", "uid:gid", "name", "name:group") to numbers,
 * reading /etc/passwd and /etc/group of the unpacked rootfs only for names.
 */
export async function resolveImageUser(user: string, rootfs: () => Promise<string>): Promise<{ uid: number; gid: number }> {
  if (user === "") return { uid: 0, gid: 0 };
  const [userPart = "", groupPart] = user.split(":");
  const numeric = (s: string) => (/^\d+$/.test(s) ? Number(s) : undefined);
  let uid = numeric(userPart);
  let gid = groupPart === undefined ? undefined : numeric(groupPart);
  if (uid !== undefined && (groupPart === undefined || gid !== undefined)) return { uid, gid: gid ?? 0 };
  const root = await rootfs();
  const table = async (file: string) => (await readFile(path.join(root, file), "utf8").catch(() => "")).split("\n").map((line) => line.split(":"));
  if (uid === undefined) {
    const entry = (await table("etc/passwd")).find((fields) => fields[0] === userPart);
    if (!entry) throw new Error(`image user "${user}": no user "${userPart}" in the image's /etc/passwd`);
    uid = Number(entry[2]);
    if (groupPart === undefined) gid = Number(entry[3]);
  }
  if (gid === undefined && groupPart !== undefined) {
    const entry = (await table("etc/group")).find((fields) => fields[0] === groupPart);
    if (!entry) throw new Error(`image user "${user}": no group "${groupPart}" in the image's /etc/group`);
    gid = Number(entry[2]);
  }
  return { uid, gid: gid ?? 0 };
}
