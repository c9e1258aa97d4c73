/** "did you mean …?" for a mistyped name: the closest of the known names by edit distance, if close. */

/** Levenshtein distance (insertions, deletions, substitutions; an adjacent swap counts as one). */
export function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) =>
    Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  for (let i = 1; i <= a.length; i++)
    for (let j = 1; j <= b.length; j++) {
      const row = d[i] as number[];
      const up = d[i - 1] as number[];
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min((up[j] as number) + 1, (row[j - 1] as number) + 1, (up[j - 1] as number) + cost);
      // Transposition (Damerau): "--bacth" is one slip from "--batch", not two.
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        best = Math.min(best, ((d[i - 2] as number[])[j - 2] as number) + 1);
      row[j] = best;
    }
  return (d[a.length] as number[])[b.length] as number;
}

/**
 * The known name closest to `given`, or undefined when none is plausibly meant: within a third of the
 * name's length (at least 1, at most 3 edits), or one that starts with what was typed (--epo → --epochs).
 */
export function closest(given: string, known: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const name of known) {
    const dist = editDistance(given.toLowerCase(), name.toLowerCase());
    if (dist < bestDistance) {
      best = name;
      bestDistance = dist;
    }
  }
  if (best === undefined) return undefined;
  const limit = Math.min(3, Math.max(1, Math.floor(given.length / 3)));
  if (bestDistance <= limit) return best;
  if (given.length >= 3) for (const name of known) if (name.startsWith(given)) return name;
  return undefined;
}

/** "; did you mean X?" or "", to append to a message about an unknown name. */
export function didYouMean(
  given: string,
  known: Iterable<string>,
  show: (name: string) => string = (n) => n,
) {
  const hit = closest(given, known);
  return hit === undefined ? "" : `; did you mean ${show(hit)}?`;
}
