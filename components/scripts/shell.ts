// Small pieces every generated script is made of: quoting, heredoc file bodies, and the
// wrapper that turns a step body into a complete, self-contained script.

/** Quotes a value as one shell word. */
export function q(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

const HEREDOC = "VHIVE_EOF";

/** `write_file <path> <mode>` fed by a quoted heredoc (no expansion inside). */
export function writeFile(path: string, mode: string, content: string): string {
  if (content.split("\n").includes(HEREDOC)) throw new Error(`file content for ${path} contains the heredoc delimiter`);
  const body = content.endsWith("\n") ? content : `${content}\n`;
  return `write_file ${q(path)} ${mode} <<'${HEREDOC}'\n${body}${HEREDOC}`;
}

/** Joins non-empty script fragments with blank lines. */
export function lines(...parts: (string | false | undefined)[]): string {
  return parts.filter((p): p is string => typeof p === "string" && p !== "").join("\n");
}
