// Strings a user gave (scenario and variant names, paths, header values) on their way into a
// terminal or a markdown file: made inert for the grammar they land in. A name with ESC, BEL or
// CR rewrote the terminal; one with `|`, `#`, `<` or `![…](…)` rewrote a job summary.

/** Control characters (C0 but newline and tab, DEL, C1) shown as U+FFFD: nothing a terminal obeys. */
export function plain(s: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: those are what it removes
  return s.replace(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g, '\ufffd');
}

/** Text inside a markdown line or table cell: no markup, no HTML, no line break, no `|`. */
export function markdown(s: string): string {
  return plain(s)
    .replace(/[\r\n\t]+/g, ' ')
    .replace(/[\\`*_[\]()#+!|~>{}-]/g, (c) => `\\${c}`)
    .replace(/</g, '&lt;');
}
