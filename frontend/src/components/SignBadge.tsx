import type { Sign } from "../api/client";

/** Why a mode is inactive (docs/method.md#inactive-modes), for titles and notes. */
export const INACTIVE_REASON =
  "σ = 0: the head's W_q or W_k is zero or rank-deficient, so this mode never contributes to attention";

export function InactiveBadge() {
  return (
    <span className="badge badge-muted" title={INACTIVE_REASON}>
      inactive
    </span>
  );
}

export function DegenerateBadge() {
  return (
    <span className="badge badge-warn" title="σ within 1e-3 of a neighbour: this mode's vectors are not unique">
      degenerate
    </span>
  );
}

/** A mode's sign: `pos` is the mode (u, v), `neg` the mode (−u, −v) (docs/method.md#signs). */
export function SignBadge({ sign }: { sign: Sign }) {
  return (
    <span className="badge badge-sign" title={sign === "pos" ? "the mode (u, v)" : "the mode (−u, −v)"}>
      {sign}
    </span>
  );
}

/** Why a mode that never fires still has positive scores (docs/method.md#per-mode-statistics). */
export const NEVER_FIRES_REASON =
  "no image makes both its query and key maps peak above 0: every positive score is the product of two negative maxima";

export function NeverFiresBadge() {
  return (
    <span className="badge badge-muted" title={NEVER_FIRES_REASON}>
      never fires
    </span>
  );
}
