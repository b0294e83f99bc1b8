import type { Sign } from "../../api/client";
import { GLOSSARY } from "../../lib/help/glossary";

export function InactiveBadge() {
  return (
    <span className="badge badge-muted" title={GLOSSARY.inactive.text}>
      inactive
    </span>
  );
}

export function DegenerateBadge() {
  return (
    <span className="badge badge-warn" title={GLOSSARY.degenerate.text}>
      degenerate
    </span>
  );
}

/** A mode's sign: `pos` is the mode (u, v), `neg` the mode (−u, −v) (docs/method.md#signs). */
export function SignBadge({ sign }: { sign: Sign }) {
  return (
    <span className="badge badge-sign" title={GLOSSARY[sign].text}>
      {sign}
    </span>
  );
}

/** On a top image whose score is the product of two negative maxima (docs/method.md#evidence-and-firing). */
export function QuirkBadge() {
  return (
    <span className="badge badge-warn" title={GLOSSARY.quirk.text}>
      does not fire
    </span>
  );
}

export function NeverFiresBadge() {
  return (
    <span className="badge badge-muted" title={GLOSSARY.neverFires.text}>
      never fires
    </span>
  );
}
