/** Title block of a model's pages: its id, the demo label and the facts a reader needs. */
import type { ReactNode } from "react";
import type { ModelSummary } from "../../api/client";
import { count, integer } from "../../lib/common/format";
import { DemoBadge } from "./DemoBadge";
import { Facts } from "../ui/Facts";

export function ModelFacts({ model }: { model: ModelSummary }) {
  return (
    <Facts
      inline
      items={[
        ["family", model.family],
        ["layers × heads", `${integer(model.n_layers)} × ${integer(model.n_heads)}`],
        ["d / d_head", `${integer(model.d_model)} / ${integer(model.d_head)}`],
        ["input", `${model.image_size} px, ${model.grid}×${model.grid} patches`],
        [
          "dataset",
          `${model.dataset.name} (${count(model.dataset.n_images, "image")}, top ${integer(model.top_k)} kept)`,
        ],
        ["bases", model.bases.join(", ")],
        ["precision", model.precision ?? "not recorded", "precision"],
      ]}
    />
  );
}

export function ModelTitle({ model, children }: { model: ModelSummary; children?: ReactNode }) {
  return (
    <div className="page-title">
      <h1>{children ?? model.model_id}</h1>
      <DemoBadge model={model} />
    </div>
  );
}
