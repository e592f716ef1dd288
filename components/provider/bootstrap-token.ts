// vhive:index:BootstrapToken — a kubeadm bootstrap token (`[a-z0-9]{6}.[a-z0-9]{16}`), made once
// from the operating system's random source and kept secret in the stack state.
import { randomInt, randomUUID } from "node:crypto";
import type { ResourceHandler } from "./handler.js";
import { secret } from "./secrets.js";

const ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789";

export function newBootstrapToken(): string {
  const pick = (n: number) => Array.from({ length: n }, () => ALPHABET[randomInt(ALPHABET.length)]).join("");
  return `${pick(6)}.${pick(16)}`;
}

export const bootstrapToken: ResourceHandler = {
  async check(_urn, _olds, news) {
    return { inputs: news };
  },
  async diff() {
    return { changes: false };
  },
  async create() {
    return { id: randomUUID(), outs: { token: secret(newBootstrapToken()) } };
  },
  async update(_id, _urn, olds) {
    return { outs: olds };
  },
  async delete() {},
};
