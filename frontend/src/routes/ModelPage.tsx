/** Model: the layers × heads grid, the model's cosine-vs-depth curve and its singular spectra. */
import { lazy, Suspense, useState } from "react";
import { HowToRead } from "../components/ui/HowToRead";
import { Link, useSearchParams } from "react-router";
import type { ModelDetail, ModelSummary } from "../api/client";
import { useModelDetail, useO3 } from "../api/resources";
import { Breadcrumbs } from "../components/layout/Breadcrumbs";
import { HeadGrid } from "../components/model/HeadGrid";
import { HelpTip } from "../components/ui/HelpTip";
import { PlantedModeList } from "../components/model/PlantedModes";
import { parseEnum } from "../api/enums";
import { ModelGate } from "../components/layout/ModelGate";
import { ModelFacts, ModelTitle } from "../components/layout/ModelHeader";
import { SegmentedControl } from "../components/ui/SegmentedControl";
import { ErrorNotice, Loaded, Loading } from "../components/ui/Status";
import { depthSeries } from "../lib/charts/depthSeries";
import { HEAD_GRID_SCALE_MODES, type HeadGridScaleMode, hasInactiveHead } from "../lib/charts/headGrid";
import { O3_QUERIES, o3QuerySeries } from "../lib/charts/o3Series";
import { headPath, modeIndexPath } from "../lib/address/paths";
import { spectrumLines } from "../lib/charts/spectra";
import { count, integer } from "../lib/common/format";
import { useDocumentTitle } from "../lib/common/useDocumentTitle";
import { pageTitle } from "../lib/common/pageTitles";

const DepthChart = lazy(() => import("../components/charts/DepthChart").then((m) => ({ default: m.DepthChart })));
const SpectrumChart = lazy(() =>
  import("../components/charts/SpectrumChart").then((m) => ({ default: m.SpectrumChart })),
);

export default function ModelPage() {
  return <ModelGate>{({ summary }) => <ModelDetailPage summary={summary} />}</ModelGate>;
}

function ModelDetailPage({ summary }: { summary: ModelSummary }) {
  useDocumentTitle(pageTitle.model(summary.model_id));
  const detail = useModelDetail(summary.slug);
  return (
    <Loaded state={detail} label="Loading model…" pageTitle={summary.model_id}>
      {(d) => <ModelView detail={d} />}
    </Loaded>
  );
}

function ModelView({ detail }: { detail: ModelDetail }) {
  useDocumentTitle(pageTitle.model(detail.model_id));
  // The grid's colour scale is in the URL, so that a permalink shows the same colours.
  const [search, setSearch] = useSearchParams();
  const scaleMode = parseEnum(HEAD_GRID_SCALE_MODES, search.get("scale"), "fixed");
  return (
    <>
      <Breadcrumbs items={[{ label: "Models", to: "/" }, { label: detail.model_id }]} />
      <ModelTitle model={detail} />
      <ModelFacts model={detail} />
      <HowToRead page="model" />
      <PlantedModeList model={detail} />
      <p className="index-link">
        <Link className="button button-primary" to={modeIndexPath(detail.slug)}>
          Mode index: all {count(detail.n_layers * detail.n_heads * detail.n_modes * 2, "signed mode")}
        </Link>{" "}
        <span className="muted">
          sortable by σ, cosine, best score
          {detail.statistics.computed ? ", mean, firing and class selectivity" : ""}; filterable
        </span>
      </p>
      <section aria-labelledby="grid-heading">
        <h2 id="grid-heading">Heads</h2>
        <p className="muted">
          Each cell is one head, coloured by its σ-weighted cosine
          <HelpTip term="weightedCos" />. Open a head to see its modes.
          {hasInactiveHead(detail.head_weighted_cos)
            ? " Hatched cells are inactive heads: every σ is 0 (W_q or W_k is zero, as in a pruned or dead head)."
            : ""}
        </p>
        <SegmentedControl<HeadGridScaleMode>
          label="Colour scale"
          value={scaleMode}
          options={[
            { value: "fixed", label: "fixed, −1 to +1" },
            { value: "stretch", label: "stretch to this model's range" },
          ]}
          onChange={(mode) => setSearch(mode === "fixed" ? {} : { scale: mode }, { replace: true })}
        />
        <HeadGrid
          scaleMode={scaleMode}
          values={detail.head_weighted_cos}
          hrefFor={(layer, head) => headPath(detail.slug, layer, head)}
          fileName={[detail.slug, "head-grid"]}
          context={{ model: detail.model_id }}
        />
      </section>
      <div className="two-col">
        <section aria-labelledby="curve-heading">
          <h2 id="curve-heading">Cosine across depth</h2>
          <Suspense fallback={<Loading label="Loading chart…" />}>
            <DepthChart
              title="Layer mean of the cosine u·v"
              yLabel="cosine"
              seriesColumn="quantity"
              fileName={[detail.slug, "cosine-depth"]}
              context={{ model: detail.model_id }}
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
      {detail.has_o3 ? <OddOneOut detail={detail} /> : null}
    </>
  );
}

/** The paper's Fig. 2 for this model: where the target's and a distractor's query patch attend. */
function OddOneOut({ detail }: { detail: ModelDetail }) {
  const model = detail.slug;
  const result = useO3(model);
  return (
    <section aria-labelledby="o3-heading">
      <h2 id="o3-heading">Odd-one-out attention</h2>
      <p className="muted">
        Images with one odd object (the target) among similar distractors. For the patch most covered by the target and
        the one most covered by a distractor, the share of the model&apos;s real attention on the same kind of object,
        on the other kind, and on the background, averaged over heads and images. Dashed: what uniform attention would
        give.
      </p>
      {result.status === "loading" ? <Loading label="Loading odd-one-out results…" /> : null}
      {result.status === "error" ? <ErrorNotice message={result.message} /> : null}
      {result.status === "ok" ? (
        <>
          <p className="muted">
            {count(result.data.dataset.n_used, "image")} of {result.data.dataset.name}
            {result.data.dataset.n_skipped > 0 ? ` (${integer(result.data.dataset.n_skipped)} skipped)` : ""}.
          </p>
          <div className="two-col">
            {O3_QUERIES.map(({ value, label }) => (
              <Suspense key={value} fallback={<Loading label="Loading chart…" />}>
                <DepthChart
                  title={`Attention of the ${label}`}
                  yLabel="share of attention"
                  seriesColumn="share"
                  fileName={[model, "o3", value.replace("_", "-")]}
                  context={{ model: detail.model_id, query: label }}
                  yDomain={[0, 1]}
                  height={280}
                  series={o3QuerySeries(result.data, value)}
                />
              </Suspense>
            ))}
          </div>
        </>
      ) : null}
    </section>
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
          fileName={[detail.slug, "spectra", layer === "all" ? "layers" : `L${layer}`]}
          context={{ model: detail.model_id }}
        />
      </Suspense>
    </section>
  );
}
