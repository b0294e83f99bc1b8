/**
 * A labelled group of toggle buttons styled as a segmented switch; the pressed one is the value.
 * Buttons (`aria-pressed`) rather than radios: a radio group takes the arrow keys, which the pages use
 * to step through modes and heads (`lib/keys/keyboard.ts`); Tab reaches each option, Enter or Space picks it.
 */
import { useId } from "react";
import type { GlossaryTerm } from "../../lib/help/glossary";
import { HelpTip } from "./HelpTip";

export interface SegmentOption<T extends string> {
  value: T;
  label: string;
  disabled?: boolean;
}

export function SegmentedControl<T extends string>({
  label,
  value,
  options,
  onChange,
  help,
}: {
  label: string;
  value: T;
  options: SegmentOption<T>[];
  onChange: (value: T) => void;
  /** The glossary term explaining this choice, if any: a "?" next to the label. */
  help?: GlossaryTerm | undefined;
}) {
  const labelId = useId();
  return (
    <div className="segmented" role="group" aria-labelledby={labelId}>
      <span className="segmented-label">
        <span id={labelId}>{label}</span>
        {help ? <HelpTip term={help} /> : null}
      </span>
      <div className="segmented-options">
        {options.map((o) => (
          <button
            key={o.value}
            type="button"
            aria-pressed={value === o.value}
            disabled={o.disabled}
            onClick={() => {
              if (value !== o.value) onChange(o.value);
            }}
          >
            {o.label}
          </button>
        ))}
      </div>
    </div>
  );
}
