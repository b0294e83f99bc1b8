/** The classes nearest to a label that names none: what a class page suggests for an unknown class. */

/** A label as lower-case words (`Golden_Retriever` → `golden retriever`), as the server compares them. */
export function classWords(label: string): string {
  return label
    .toLowerCase()
    .replace(/[\s_]+/g, " ")
    .trim();
}

/** Levenshtein distance (insertions, deletions and substitutions, each 1). */
export function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1);
      current.push(Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, substitution));
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
}

/**
 * Up to `limit` labels near `wanted`: first those that contain it or that it contains (`retriever` →
 * golden retriever; `golden retrievers` → golden retriever), shortest first, then those within a
 * third of its length in edits (typos: `goldfsh` → goldfish), closest first; ties in label order.
 */
export function nearClasses(wanted: string, labels: readonly string[], limit = 6): string[] {
  const target = classWords(wanted);
  if (target === "") return [];
  const scored: { label: string; tier: number; score: number }[] = [];
  for (const label of labels) {
    const words = classWords(label);
    if (words === target) continue;
    if (words.includes(target) || target.includes(words)) {
      scored.push({ label, tier: 0, score: Math.abs(words.length - target.length) });
      continue;
    }
    const distance = editDistance(words, target);
    if (distance <= Math.max(2, Math.floor(target.length / 3))) scored.push({ label, tier: 1, score: distance });
  }
  scored.sort((x, y) => x.tier - y.tier || x.score - y.score || x.label.localeCompare(y.label));
  return scored.slice(0, limit).map((s) => s.label);
}
