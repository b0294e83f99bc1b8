/** Home: the served models, and weighted cosine vs normalized depth for all of them (Fig. 3). */
import { lazy, Suspense, useState } from "react";
import { Link } from "react-router";
import { api, type ModelDetail } from "../api/client";
import { useApi } from "../api/useApi";
import { ModelCard } from "../components/ModelCard";
import { SegmentedControl } from "../components/SegmentedControl";
import { Empty, ErrorNotice, Loaded, Loading } from "../components/Status";
import { CURVE_VARIANTS, type CurveVariant, depthSeries } from "../lib/depthSeries";
import { useDocumentTitle } from "../lib/useDocumentTitle";

const CosineDepthChart = lazy(() =>
  import("../components/charts/CosineDepthChart").then((m) => ({ default: m.CosineDepthChart })),
);

async function loadDetails(slugs: string[], signal: AbortSignal) {
  const results = await Promise.all(
    slugs.map((model) => api.GET("/api/models/{model}", { params: { path: { model } }, signal })),
  );
  const failed = results.find((r) => r.data === undefined);
  if (failed) return failed;
  return { data: results.map((r) => r.data as ModelDetail), response: results[0]!.response };
}

export default function HomePage() {
  useDocumentTitle("");
  const models = useApi((signal) => api.GET("/api/models", { signal }), []);
  return (
    <>
      <section className="intro">
        <h1>Query-key singular modes of vision transformers</h1>
        <p>
          Every attention head scores a query token <var>x</var><sub>i</sub> against a key token <var>x</var>
          <sub>j</sub> with <var>x</var><sub>i</sub>ᵀ W<sub>q</sub>ᵀW<sub>k</sub> <var>x</var><sub>j</sub>. Its singular
          modes (u<sub>n</sub>, σ<sub>n</sub>, v<sub>n</sub>) read: a token like u<sub>n</sub> attends to a token like v
          <sub>n</sub>, with strength σ<sub>n</sub>. Pick a model to browse its heads and modes, or{" "}
          <Link to="/upload">upload an image</Link>.
        </p>
      </section>
      <Loaded state={models} label="Loading models…">
        {(list) =>
          list.length === 0 ? (
            <Empty>No atlas is being served. Build one with the precompute job and restart the server.</Empty>
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
            </>
          )
        }
      </Loaded>
    </>
  );
}

function AllModelsCurve({ slugs }: { slugs: string[] }) {
  const [variant, setVariant] = useState<CurveVariant>("weighted");
  const details = useApi((signal) => loadDetails(slugs, signal), [slugs.join(",")]);
  const meta = CURVE_VARIANTS.find((v) => v.value === variant)!;
  return (
    <section aria-labelledby="curve-heading">
      <h2 id="curve-heading">Cosine of u and v across depth</h2>
      <p className="muted">
        High values: heads group similar tokens. Near zero or negative: they bring in context from different tokens. The
        shaded band is the 95 % range of the cosine between random directions (±1.96/√d).
      </p>
      <SegmentedControl
        label="Quantity"
        value={variant}
        options={CURVE_VARIANTS.map(({ value, label }) => ({ value, label }))}
        onChange={setVariant}
      />
      {details.status === "loading" ? <Loading label="Loading summaries…" /> : null}
      {details.status === "error" ? <ErrorNotice message={details.message} /> : null}
      {details.status === "ok" ? (
        <Suspense fallback={<Loading label="Loading chart…" />}>
          <CosineDepthChart
            title={`${meta.label} vs normalized depth, all models`}
            yLabel={meta.axis}
            series={details.data.map((d) => depthSeries({ ...d, label: d.model_id }, variant))}
          />
        </Suspense>
      ) : null}
    </section>
  );
}
