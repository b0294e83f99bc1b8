import { Link } from "react-router";
import type { ModelSummary } from "../../api/client";
import { modelPath } from "../../lib/address/paths";
import { count, integer } from "../../lib/common/format";
import { DemoBadge } from "../layout/DemoBadge";
import { Facts } from "../ui/Facts";

export function ModelCard({ model }: { model: ModelSummary }) {
  return (
    <li className="card model-card">
      <h3>
        <Link to={modelPath(model.slug)}>{model.model_id}</Link>
      </h3>
      <DemoBadge model={model} />
      <Facts
        items={[
          ["layers × heads", `${integer(model.n_layers)} × ${integer(model.n_heads)}`],
          ["width d / d_head", `${integer(model.d_model)} / ${integer(model.d_head)}`],
          ["patches", `${model.grid}×${model.grid} of ${model.patch_size} px`],
          ["dataset", `${model.dataset.name}, ${count(model.dataset.n_images, "image")}`],
        ]}
      />
    </li>
  );
}
