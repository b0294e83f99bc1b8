/** Home: the served models, and weighted cosine vs normalized depth for all of them (Fig. 3). */
import { HowToRead } from "../components/ui/HowToRead";
import { lazy, Suspense, useState } from "react";
import { Link, useSearchParams } from "react-router";
import type { ModelSummary } from "../api/client";
import { useModelDetails, useModels, useO3s } from "../api/resources";
import { ModelCard } from "../components/model/ModelCard";
import { ProgressPanel } from "../components/model/ProgressPanel";
import { SegmentedControl } from "../components/ui/SegmentedControl";
import { Empty, ErrorNotice, Loaded, Loading } from "../components/ui/Status";
import { CURVE_VARIANTS, depthSeries, parseCurveVariant, setCurveVariant } from "../lib/charts/depthSeries";
import { O3_QUERIES, O3_REGIONS, type O3Query, type O3Region, o3Series } from "../lib/charts/o3Series";
import { useDocumentTitle } from "../lib/common/useDocumentTitle";
import { pageTitle } from "../lib/common/pageTitles";

const DepthChart = lazy(() => import("../components/charts/DepthChart").then((m) => ({ default: m.DepthChart })));

export default function HomePage() {
  useDocumentTitle(pageTitle.home());
  const models = useModels();
  return (
    <>
      <section className="intro">
        <h1>Query-key singular modes of vision transformers</h1>
        <p>
          Every attention head scores a query token <var>x</var>
          <sub>i</sub> against a key token <var>x</var>
          <sub>j</sub> with <var>x</var>
          <sub>i</sub>ᵀ W<sub>q</sub>ᵀW<sub>k</sub> <var>x</var>
          <sub>j</sub>. Its singular modes (u<sub>n</sub>, σ<sub>n</sub>, v<sub>n</sub>) read: a token like u
          <sub>n</sub> attends to a token like v<sub>n</sub>, with strength σ<sub>n</sub>. Pick a model to browse its
          heads and modes, or <Link to="/upload">upload an image</Link>.
        </p>
      </section>
      <HowToRead page="home" />
      <ProgressPanel />
      <Loaded state={models} label="Loading models…">
        {(list) =>
          list.length === 0 ? (
            <Empty>
              No atlas is being served yet. Build one with the precompute job into the atlas folder: it appears here
              within seconds.
            </Empty>
          ) : (
            <>
              <section aria-labelledby="models-heading">
                <h2 id="models-heading">Models</h2>
                <ul className="card-list">
                  {list.map((m) => (
                    <ModelCard key={m.slug} model={m} />
                  ))}
                </ul>
              </section>
              <AllModelsCurve slugs={list.map((m) => m.slug)} />
              {list.some((m) => m.has_o3) ? <AllModelsO3 models={list.filter((m) => m.has_o3)} /> : null}
            </>
          )
        }
      </Loaded>
    </>
  );
}

function AllModelsCurve({ slugs }: { slugs: string[] }) {
  // The quantity is part of the address (`?quantity=`), so a reload, Back or a shared link shows it.
  const [search, setSearch] = useSearchParams();
  const variant = parseCurveVariant(search);
  const details = useModelDetails(slugs);
  const meta = CURVE_VARIANTS.find((v) => v.value === variant)!;
  return (
    <section aria-labelledby="curve-heading">
      <h2 id="curve-heading">Cosine of u and v across depth</h2>
      <p className="muted">
        High values: heads group similar tokens. Near zero or negative: they bring in context from different tokens.
        Each model&apos;s shaded band, in its line&apos;s colour between dashed edges, is the 95 % range of the cosine
        between random directions in its width (±1.96/√d).
      </p>
      <SegmentedControl
        label="Quantity"
        help="weightedCos"
        value={variant}
        options={CURVE_VARIANTS.map(({ value, label }) => ({ value, label }))}
        onChange={(next) => setSearch((current) => setCurveVariant(current, next), { replace: true })}
      />
      {details.status === "loading" ? <Loading label="Loading summaries…" /> : null}
      {details.status === "error" ? <ErrorNotice message={details.message} /> : null}
      {details.status === "ok" ? (
        <Suspense fallback={<Loading label="Loading chart…" />}>
          <DepthChart
            title={`${meta.label} vs normalized depth, all models`}
            yLabel={meta.axis}
            seriesColumn="model"
            fileName={["all-models", `${variant}-cosine-depth`]}
            series={details.data.map((d) => depthSeries({ ...d, label: d.model_id }, variant))}
          />
        </Suspense>
      ) : null}
    </section>
  );
}

/** One odd-one-out share across depth for every model that has the results (paper Fig. 2). */
function AllModelsO3({ models }: { models: ModelSummary[] }) {
  const [query, setQuery] = useState<O3Query>("target_query");
  const [region, setRegion] = useState<O3Region>("same_object");
  const results = useO3s(models.map((m) => m.slug));
  const queryLabel = O3_QUERIES.find((q) => q.value === query)!.label;
  const regionLabel = O3_REGIONS.find((r) => r.value === region)!.label;
  return (
    <section aria-labelledby="o3-heading">
      <h2 id="o3-heading">Odd-one-out attention across depth</h2>
      <p className="muted">
        Share of a query patch&apos;s attention on the same kind of object, on the other kind, or on the background, in
        images with one odd object among similar distractors. Dashed: what uniform attention would give.
      </p>
      <div className="controls">
        <SegmentedControl label="Query" value={query} options={O3_QUERIES} onChange={setQuery} />
        <SegmentedControl label="Share" value={region} options={O3_REGIONS} onChange={setRegion} />
      </div>
      {results.status === "loading" ? <Loading label="Loading odd-one-out results…" /> : null}
      {results.status === "error" ? <ErrorNotice message={results.message} /> : null}
      {results.status === "ok" ? (
        <Suspense fallback={<Loading label="Loading chart…" />}>
          <DepthChart
            title={`${regionLabel} share of the ${queryLabel}'s attention, all models`}
            yLabel={`${regionLabel} share`}
            seriesColumn="model"
            fileName={["all-models", "o3", query.replace("_", "-"), region.replace("_", "-")]}
            context={{ query: queryLabel }}
            yDomain={[0, 1]}
            series={results.data.map((r) => o3Series(r, query, region, r.model_id, r.model))}
          />
        </Suspense>
      ) : null}
    </section>
  );
}
