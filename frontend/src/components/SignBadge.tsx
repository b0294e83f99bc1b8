export function DegenerateBadge() {
  return (
    <span className="badge badge-warn" title="σ within 1e-3 of a neighbour: this mode's vectors are not unique">
      degenerate
    </span>
  );
}
