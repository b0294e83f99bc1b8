/** The previous and next head (in layer-major order) and mode, for stepping through the atlas. */

export interface HeadPos {
  layer: number;
  head: number;
}

export function stepHead(pos: HeadPos, delta: 1 | -1, nLayers: number, nHeads: number): HeadPos | null {
  const index = pos.layer * nHeads + pos.head + delta;
  if (index < 0 || index >= nLayers * nHeads) return null;
  return { layer: Math.floor(index / nHeads), head: index % nHeads };
}

export function stepIndex(index: number, delta: 1 | -1, count: number): number | null {
  const next = index + delta;
  return next >= 0 && next < count ? next : null;
}
