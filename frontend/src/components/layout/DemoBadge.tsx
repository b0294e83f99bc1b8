/** Marks atlases whose weights are random or hand-planted: their modes say nothing about real models. */
import type { ModelSummary } from "../../api/client";

export function demoLabel(model: Pick<ModelSummary, "random_init" | "planted">): string | null {
  if (model.planted) return "offline demo · planted modes";
  if (model.random_init) return "offline demo · random weights";
  return null;
}

export function DemoBadge({ model }: { model: Pick<ModelSummary, "random_init" | "planted"> }) {
  const label = demoLabel(model);
  if (!label) return null;
  return (
    <span className="demo-badge" title="Built from random or hand-planted weights, not a trained model">
      {label}
    </span>
  );
}
