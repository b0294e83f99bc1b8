/** Title block of a model's pages: its id, the demo label and the facts a reader needs. */
import type { ReactNode } from "react";
import type { ModelSummary } from "../../api/client";
import { DemoBadge } from "./DemoBadge";
import { Facts } from "../ui/Facts";

export function ModelFacts({ model }: { model: ModelSummary }) {
  return (
    <Facts
      inline
      items={[
        ["family", model.family],
        ["layers × heads", `${model.n_layers} × ${model.n_heads}`],
        ["d / d_head", `${model.d_model} / ${model.d_head}`],
        ["input", `${model.image_size} px, ${model.grid}×${model.grid} patches`],
        [
          "dataset",
          `${model.dataset.name} (${model.dataset.n_images.toLocaleString("en")} images, top ${model.top_k} kept)`,
        ],
        ["bases", model.bases.join(", ")],
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
