/** Model: the layers × heads grid, the model's cosine-vs-depth curve and its singular spectra. */
import { lazy, Suspense, useState } from "react";
import { api, type ModelDetail } from "../api/client";
import { useApi } from "../api/useApi";
import { Breadcrumbs } from "../components/Breadcrumbs";
import { HeadGrid } from "../components/HeadGrid";
import { ModelFacts, ModelTitle } from "../components/ModelHeader";
import { SegmentedControl } from "../components/SegmentedControl";
import { Loaded, Loading } from "../components/Status";
import { depthSeries } from "../lib/depthSeries";
import { headPath } from "../lib/paths";
import { spectrumLines } from "../lib/spectra";
import { useDocumentTitle } from "../lib/useDocumentTitle";
import { useModelRoute } from "../lib/useModelRoute";

const CosineDepthChart = lazy(() =>
  import("../components/charts/CosineDepthChart").then((m) => ({ default: m.CosineDepthChart })),
);
const SpectrumChart = lazy(() =>
  import("../components/charts/SpectrumChart").then((m) => ({ default: m.SpectrumChart })),
);

export default function ModelPage() {
  const { model } = useModelRoute();
  useDocumentTitle(model);
  const detail = useApi((signal) => api.GET("/api/models/{model}", { params: { path: { model } }, signal }), [model]);
  return (
    <Loaded state={detail} label="Loading model…" pageTitle={model}>
      {(d) => <ModelView detail={d} />}
    </Loaded>
  );
}

function ModelView({ detail }: { detail: ModelDetail }) {
  useDocumentTitle(detail.model_id);
  return (
    <>
      <Breadcrumbs items={[{ label: "Models", to: "/" }, { label: detail.model_id }]} />
      <ModelTitle model={detail} />
      <ModelFacts model={detail} />
      <section aria-labelledby="grid-heading">
        <h2 id="grid-heading">Heads</h2>
        <p className="muted">Each cell is one head, coloured by its σ-weighted cosine. Open a head to see its modes.</p>
        <HeadGrid values={detail.head_weighted_cos} hrefFor={(layer, head) => headPath(detail.slug, layer, head)} />
      </section>
      <div className="two-col">
        <section aria-labelledby="curve-heading">
          <h2 id="curve-heading">Cosine across depth</h2>
          <Suspense fallback={<Loading label="Loading chart…" />}>
            <CosineDepthChart
              title="Layer mean of the cosine u·v"
              yLabel="cosine"
              height={280}
              series={[
                depthSeries({ ...detail, label: "σ-weighted" }, "weighted"),
                { ...depthSeries({ ...detail, label: "unweighted" }, "unweighted"), id: "unweighted" },
              ]}
            />
          </Suspense>
        </section>
        <Spectra detail={detail} />
      </div>
    </>
  );
}

function Spectra({ detail }: { detail: ModelDetail }) {
  const [layer, setLayer] = useState<number | "all">("all");
  const [scale, setScale] = useState<"linear" | "log">("log");
  const lines = spectrumLines(detail.spectra.sigma, layer);
  return (
    <section aria-labelledby="spectra-heading">
      <h2 id="spectra-heading">Singular spectra</h2>
      <div className="controls">
        <label className="select">
          <span>Show</span>
          <select
            value={String(layer)}
            onChange={(e) => setLayer(e.target.value === "all" ? "all" : Number(e.target.value))}
          >
            <option value="all">every layer (mean over heads)</option>
            {detail.layers.map((l) => (
              <option key={l.layer} value={l.layer}>
                layer {l.layer}, every head
              </option>
            ))}
          </select>
        </label>
        <SegmentedControl
          label="σ axis"
          value={scale}
          options={[
            { value: "log", label: "log" },
            { value: "linear", label: "linear" },
          ]}
          onChange={setScale}
        />
      </div>
      <Suspense fallback={<Loading label="Loading chart…" />}>
        <SpectrumChart
          title={layer === "all" ? "Mean σ per mode, one line per layer" : `σ per mode, heads of layer ${layer}`}
          lines={lines}
          logScale={scale === "log"}
        />
      </Suspense>
    </section>
  );
}
