/** A list of labelled values ("layers × heads: 12 × 12"), laid out inline or as a two-column grid. */
import type { ReactNode } from "react";

export type Fact = [label: string, value: ReactNode];

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
      {items.map(([label, value]) => (
        <div key={label}>
          <dt>{label}</dt>
          <dd>{value}</dd>
        </div>
      ))}
    </dl>
  );
}
