/**
 * Which modes drive one query patch's attention row (exact basis). The logit of key j is
 * Σ_n l_n[j] + r[j] + (terms constant in j); constants cancel in the softmax, so a mode "drives" the
 * row by how much it raises the logits of the keys the row attends to above its own mean over keys:
 * drive_n = Σ_j a_j (l_n[j] − mean_j l_n[j]). Positive: the mode pulls attention to where it went.
 */

export interface ModeLogits {
  mode: number;
  logits: number[];
}

export interface ModeDrive {
  mode: number;
  drive: number;
}

export function centredDrive(attention: number[], logits: number[]): number {
  if (logits.length === 0) return 0;
  const mean = logits.reduce((s, v) => s + v, 0) / logits.length;
  return attention.reduce((s, a, j) => s + a * ((logits[j] ?? mean) - mean), 0);
}

export function modeDrives(attention: number[], modes: ModeLogits[]): ModeDrive[] {
  return modes
    .map((m) => ({ mode: m.mode, drive: centredDrive(attention, m.logits) }))
    .sort((a, b) => Math.abs(b.drive) - Math.abs(a.drive) || a.mode - b.mode);
}

/** A row-major patch index ↔ (row, column) on a T × T grid. */
export function patchIndex(row: number, col: number, grid: number): number {
  return row * grid + col;
}

export function patchCoords(index: number, grid: number): { row: number; col: number } {
  return { row: Math.floor(index / grid), col: index % grid };
}

/**
 * A patch as the address numbers it (`patch=` on the page, `query_patch=` in the API): its row-major
 * index from 0 at the top left, with its row and column, also from 0.
 */
export function patchLabel(index: number, grid: number): string {
  const { row, col } = patchCoords(index, grid);
  return `patch ${index} (row ${row}, column ${col})`;
}

/**
 * Below this spread over the keys (max − min, in logit units) the key-only term changes no attention
 * probability by more than a factor 1 + 10⁻⁶: the head has no key salience to show.
 */
export const FLAT_KEY_TERM = 1e-6;

/** Whether a (non-empty) key-only logit term is the same on every key (all 0 for a head without a query constant). */
export function isFlatKeyTerm(values: number[][]): boolean {
  const flat = values.flat();
  return Math.max(...flat) - Math.min(...flat) < FLAT_KEY_TERM;
}
