/** Chooses the model, layer, head and basis an upload is analysed with. */
import type { Basis, ModelSummary } from "../../api/client";
import { BASES } from "../../api/enums";
import { SegmentedControl } from "../ui/SegmentedControl";

export interface UploadSelection {
  model: ModelSummary;
  layer: number;
  head: number;
  basis: Basis;
}

export function UploadHeadPicker({
  models,
  value,
  onChange,
}: {
  models: ModelSummary[];
  value: UploadSelection;
  onChange: (next: { model: string; layer: number; head: number; basis: Basis }) => void;
}) {
  const { model, layer, head, basis } = value;
  const change = (patch: Partial<{ model: string; layer: number; head: number; basis: Basis }>) =>
    onChange({ model: model.slug, layer, head, basis, ...patch });
  return (
    <div className="controls">
      <label className="select">
        <span>Model</span>
        <select
          value={model.slug}
          onChange={(e) => onChange({ model: e.target.value, layer: 0, head: 0, basis: "faithful" })}
        >
          {models.map((m) => (
            <option key={m.slug} value={m.slug}>
              {m.model_id}
              {m.random_init ? " (random weights)" : ""}
            </option>
          ))}
        </select>
      </label>
      <label className="select">
        <span>Layer</span>
        <select value={layer} onChange={(e) => change({ layer: Number(e.target.value) })}>
          {Array.from({ length: model.n_layers }, (_, l) => (
            <option key={l} value={l}>
              L{l}
            </option>
          ))}
        </select>
      </label>
      <label className="select">
        <span>Head</span>
        <select value={head} onChange={(e) => change({ head: Number(e.target.value) })}>
          {Array.from({ length: model.n_heads }, (_, h) => (
            <option key={h} value={h}>
              H{h}
            </option>
          ))}
        </select>
      </label>
      <SegmentedControl<Basis>
        label="Basis"
        help="basis"
        value={basis}
        options={BASES.map((b) => ({ value: b, label: b, disabled: !model.bases.includes(b) }))}
        onChange={(b) => change({ basis: b })}
      />
    </div>
  );
}
