// Text from a host (or a file) is printed only after this: escape sequences could rewrite the
// terminal, and a 20 kB line would bury the report.

// ESC-introduced sequences (CSI, OSC, and two-character escapes), then any other control
// character, C1 controls and the bidirectional overrides that reorder what is shown.
const ESCAPES = /\u001b(\[[0-?]*[ -/]*[@-~]|\][^\u0007\u001b]*(\u0007|\u001b\\)?|[@-_])?/g;
const CONTROLS = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g;

/** One printable line: no control characters, whitespace runs collapsed, at most `max` characters. */
export function sanitize(text: string, max = 200): string {
  const clean = text
    .replace(ESCAPES, "")
    .replace(CONTROLS, "")
    .replace(/[\t\n\r]+/g, " ");
  const chars = [...clean];
  if (chars.length <= max) return clean;
  return `${chars.slice(0, max).join("")}… (${chars.length - max} more characters)`;
}
