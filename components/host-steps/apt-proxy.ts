// The HTTP proxy apt uses on the host (stack setting `aptProxy`), as an apt.conf.d drop-in.
import { writeFile } from "../scripts/shell.js";
import { hostStep, type StepBodies } from "./host-step.js";

const FILE = "/etc/apt/apt.conf.d/90vhive-proxy";

export function aptProxyBodies(proxy: string): StepBodies {
  // The config schema checks this text (components/config/urls.ts); checked again here because
  // this exact string becomes an apt.conf value, where a quote or newline adds settings.
  if (!/^https?:\/\/[A-Za-z0-9._~%:@+=,/-]+$/.test(proxy))
    throw new Error("aptProxy: must be an http:// or https:// URL without quotes, spaces or control characters");
  return { create: writeFile(FILE, "0644", `Acquire::http::Proxy "${proxy}";`), delete: `remove_path ${FILE}` };
}

export const aptProxyStep = hostStep({
  name: "apt-proxy",
  after: ["limits"],
  when: ({ config }) => Boolean(config.aptProxy),
  // Never empty here (see when); an empty value would be refused by the check above.
  build: ({ config }) => aptProxyBodies(config.aptProxy ?? ""),
});
