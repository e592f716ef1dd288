// URLs from the stack config are written into apt's configuration and into host scripts. They
// are checked as the exact text that will be written (nothing stripped first), against a
// charset that is inert in apt.conf strings, shell words and systemd values.

/** scheme://host[:port][/path]: no whitespace, quotes, backslashes, control characters, `$` or `;`. */
const URL_TEXT = /^https?:\/\/[A-Za-z0-9._~%:@+=,/-]+$/;

/**
 * Why `text` cannot be used as a plain http(s) URL (a proxy or a mirror prefix), or undefined.
 * The value itself is never repeated: it may carry credentials.
 */
export function plainUrlProblem(text: string): string | undefined {
  if (!/^https?:\/\//.test(text)) return "must be an http:// or https:// URL";
  if (!URL_TEXT.test(text))
    return "must be an http:// or https:// URL of letters, digits and . _ ~ % : @ + = , / - only (no spaces, quotes, newlines, query or fragment)";
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return "must be an http:// or https:// URL";
  }
  if (url.hostname === "") return "must name a host (http://<host>[:port]/…)";
  if (
    url.username !== "" ||
    url.password !== "" ||
    text
      .slice(text.indexOf("//") + 2)
      .split("/")[0]!
      .includes("@")
  )
    return "must not contain credentials (user:password@): the URL is written into files and scripts on the hosts that are not secret; use a mirror or proxy that needs none, or restrict it by address";
  return undefined;
}
