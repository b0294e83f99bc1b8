/** Previous / next links (mode or head); an end of the range renders as disabled text. */
import { Link } from "react-router";

export interface Step {
  label: string;
  to: string | null;
}

export function StepLinks({ label, prev, next }: { label: string; prev: Step; next: Step }) {
  return (
    <nav className="step-links" aria-label={label}>
      {[
        { step: prev, arrow: "←", rel: "prev" },
        { step: next, arrow: "→", rel: "next" },
      ].map(({ step, arrow, rel }) =>
        step.to ? (
          <Link key={rel} to={step.to} rel={rel} className="button">
            {rel === "prev" ? `${arrow} ${step.label}` : `${step.label} ${arrow}`}
          </Link>
        ) : (
          <span key={rel} className="button disabled" aria-disabled="true">
            {rel === "prev" ? `${arrow} ${step.label}` : `${step.label} ${arrow}`}
          </span>
        ),
      )}
    </nav>
  );
}
