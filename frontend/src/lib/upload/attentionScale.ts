/**
 * The attention explorer's fixed colour scale and the spread of an attention row
 * (docs/method.md#the-attention-explorers-scale).
 *
 * A probability p over N keys is drawn by its ratio to the uniform level 1/N on a log scale,
 * log(p·N) / log N: 0 at uniform (drawn transparent), +1 at p = 1 (magenta), −1 at p = 1/N² and
 * below (darkened).
 * The scale depends on N alone, never on the row, so a near-uniform row looks near-uniform and
 * two rows (or heads) of one model are drawn on the same scale.
 */

/** The scale's position of probability `p` over `keys` keys, in [−1, 1]; 0 is the uniform level. */
export function uniformLogRatio(p: number, keys: number): number {
  if (keys <= 1) return 0;
  const ratio = Math.log(Math.max(0, p) * keys) / Math.log(keys);
  return Math.max(-1, Math.min(1, ratio));
}

export interface ScaleTick {
  probability: number;
  /** Where on the colour bar, from 0 (left end) to 1 (right end). */
  at: number;
  /** The uniform level 1/N, marked on the bar. */
  uniform: boolean;
}

/** The colour bar's ticks: 1/N², the uniform level 1/N (marked) and 1. */
export function attentionScaleTicks(keys: number): ScaleTick[] {
  return [1 / (keys * keys), 1 / keys, 1].map((probability) => ({
    probability,
    at: (uniformLogRatio(probability, keys) + 1) / 2,
    uniform: probability === 1 / keys,
  }));
}

/** A probability in two significant digits ("0.0051", "1"). */
export function probabilityLabel(p: number): string {
  return String(Number(p.toPrecision(2)));
}

export interface RowSpread {
  /** Shannon entropy of the row in nats, −Σ p ln p (0 for one key, ln N for the uniform row). */
  entropy: number;
  /** exp(entropy): how many keys a uniform row of the same entropy would have, from 1 to N. */
  effectiveKeys: number;
  keys: number;
}

/** The entropy and effective number of keys of an attention row (all its keys, prefix tokens included). */
export function rowSpread(row: number[]): RowSpread {
  const entropy = row.reduce((h, p) => (p > 0 ? h - p * Math.log(p) : h), 0);
  return { entropy, effectiveKeys: Math.exp(entropy), keys: row.length };
}
