/** Levenshtein distance, for "did you mean" hints. */
function editDistance(a: string, b: string): number {
  const previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let diagonal = previous[0]!;
    previous[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const above = previous[j]!;
      const cost = a[i - 1]!.toLowerCase() === b[j - 1]!.toLowerCase() ? 0 : 1;
      previous[j] = Math.min(above + 1, previous[j - 1]! + 1, diagonal + cost);
      diagonal = above;
    }
  }
  return previous[b.length]!;
}

/** The candidates closest to `input` (at most `limit`), when they are close enough to be a likely typo. */
export function closestNames(input: string, candidates: readonly string[], limit = 3): string[] {
  const threshold = Math.max(2, Math.floor(input.length / 3));
  return candidates
    .map((name) => ({ name, distance: editDistance(input, name) }))
    .filter((c) => c.distance <= threshold || c.name.toLowerCase().includes(input.toLowerCase()))
    .sort((x, y) => x.distance - y.distance || x.name.localeCompare(y.name))
    .slice(0, limit)
    .map((c) => c.name);
}
