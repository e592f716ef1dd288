import { SandboxRequestError } from "../errors.js";
import { readFile } from "node:fs/promises";
import path from "node:path";

/** Numeric identity an OCI runtime needs; image configs may name users and groups instead. */
export interface ResolvedUser {
  uid: number;
  gid: number;
}

interface Entry {
  name: string;
  id: number;
  gid?: number;
}

/** Parses /etc/passwd (name:x:uid:gid:...) or /etc/group (name:x:gid:...) text. */
export function parseIdFile(text: string, kind: "passwd" | "group"): Entry[] {
  const entries: Entry[] = [];
  for (const line of text.split("\n")) {
    if (!line || line.startsWith("#")) continue;
    const fields = line.split(":");
    const id = Number(fields[2]);
    if (fields.length < 3 || !fields[0] || !Number.isInteger(id)) continue;
    const entry: Entry = { name: fields[0], id };
    if (kind === "passwd" && fields[3] !== undefined && /^\d+$/.test(fields[3])) entry.gid = Number(fields[3]);
    entries.push(entry);
  }
  return entries;
}

const isNumeric = (s: string): boolean => /^\d+$/.test(s);

/**
 * Resolves an image config `user` ("", "uid", "name", "uid:gid", "name:group") the way container
 * engines do: names are looked up in the image's own /etc/passwd and /etc/group; a numeric user
 * without a group takes its passwd entry's group, or 0 when it has none.
 */
export function resolveUser(user: string, passwd: Entry[], groups: Entry[]): ResolvedUser {
  if (user === "") return { uid: 0, gid: 0 };
  const [userPart = "", groupPart] = user.split(":", 2);
  let uid: number;
  let gid: number;
  if (isNumeric(userPart)) {
    uid = Number(userPart);
    gid = passwd.find((e) => e.id === uid)?.gid ?? 0;
  } else {
    const entry = passwd.find((e) => e.name === userPart);
    if (!entry) throw new SandboxRequestError(`image user "${userPart}" is not in the image's /etc/passwd`);
    uid = entry.id;
    gid = entry.gid ?? 0;
  }
  if (groupPart !== undefined && groupPart !== "") {
    if (isNumeric(groupPart)) {
      gid = Number(groupPart);
    } else {
      const group = groups.find((e) => e.name === groupPart);
      if (!group) throw new SandboxRequestError(`image group "${groupPart}" is not in the image's /etc/group`);
      gid = group.id;
    }
  }
  return { uid, gid };
}

/** Reads the rootfs's passwd/group files only when the user string names someone. */
export async function resolveImageUser(user: string, rootfs: string): Promise<ResolvedUser> {
  const needsFiles = user.split(":").some((part) => part !== "" && !isNumeric(part)) || (user !== "" && !user.includes(":"));
  if (!needsFiles) return resolveUser(user, [], []);
  const read = (file: string) => readFile(path.join(rootfs, "etc", file), "utf8").catch(() => "");
  const [passwd, group] = await Promise.all([read("passwd"), read("group")]);
  return resolveUser(user, parseIdFile(passwd, "passwd"), parseIdFile(group, "group"));
}
