/** A list of labelled values ("layers × heads: 12 × 12"), laid out inline or as a two-column grid. */
import type { ReactNode } from "react";
import type { GlossaryTerm } from "../../lib/help/glossary";
import { HelpTip } from "./HelpTip";

/** A label, its value and, for a term of the glossary, its "?" help. */
export type Fact = [label: string, value: ReactNode, help?: GlossaryTerm];

export function Facts({
  items,
  inline = false,
  className = "",
}: {
  items: Fact[];
  inline?: boolean;
  className?: string;
}) {
  return (
    <dl className={`facts${inline ? " facts-inline" : ""} ${className}`.trim()}>
      {items.map(([label, value, help]) => (
        <div key={label}>
          <dt>
            {label}
            {help ? <HelpTip term={help} /> : null}
          </dt>
          <dd>{value}</dd>
        </div>
      ))}
    </dl>
  );
}
