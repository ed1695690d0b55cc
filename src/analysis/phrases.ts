// Small helpers the explanations share.

/** Non-zero counts as "N what" phrases, largest first; `{n}` in the text is the count. */
export function ranked(entries: [string, number][]): string[] {
  return entries
    .filter(([, n]) => n > 0)
    .sort((a, b) => b[1] - a[1])
    .map(([what, n]) => what.replace('{n}', String(n)));
}

/** A duration in ms as people read it: 19.6 ms, 5.0 s. */
export function duration(ms: number): string {
  return ms >= 1000
    ? `${(ms / 1000).toFixed(1)} s`
    : `${ms >= 10 ? ms.toFixed(0) : ms.toFixed(1)} ms`;
}
