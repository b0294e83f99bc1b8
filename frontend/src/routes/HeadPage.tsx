/** Head: σ and cosine of every mode in one chart, and the list of modes. */
import { DownloadFigure } from "../components/figure/DownloadFigure";
import { DEFAULT_OVERLAY } from "../lib/mode/overlay";
import { useAtlasImageError } from "../api/atlasRevisions";
import { HowToRead } from "../components/ui/HowToRead";
import { lazy, Suspense } from "react";
import { Link, useNavigate, useSearchParams } from "react-router";
import type { Basis, HeadDetail, ModelSummary, ModeSummary } from "../api/client";
import { useHead } from "../api/resources";
import { Breadcrumbs } from "../components/layout/Breadcrumbs";
import { movedText } from "../components/mode/ModeEffectSection";
import { HelpTip } from "../components/ui/HelpTip";
import { KeyHints } from "../components/layout/KeyHints";
import { PlantedModeNote, plantedModesAt } from "../components/model/PlantedModes";
import { ModelGate } from "../components/layout/ModelGate";
import { ModelTitle } from "../components/layout/ModelHeader";
import { SegmentedControl } from "../components/ui/SegmentedControl";
import { DegenerateBadge, InactiveBadge, NeverFiresBadge } from "../components/ui/SignBadge";
import { Empty, Loaded, Loading } from "../components/ui/Status";
import { StepLinks } from "../components/layout/StepLinks";
import { count, fmt, INACTIVE_LABEL, integer, modeName } from "../lib/common/format";
import { useKeyNav } from "../lib/keys/keyboard";
import { stepHead } from "../lib/mode/neighbours";
import { headPath, modelPath, modePath, parseBasis } from "../lib/address/paths";
import { topImagePath } from "../lib/mode/largeView";
import { useDocumentTitle } from "../lib/common/useDocumentTitle";
import { EmbedBadge } from "../components/layout/EmbedBadge";
import { ShareMenu } from "../components/share/ShareMenu";
import { HEAD_EMBED_PARTS, openInFullApp, showsPart, useEmbedOptions } from "../lib/embed/embedOptions";
import { pageTitle } from "../lib/common/pageTitles";

const ModeSpectrumChart = lazy(() =>
  import("../components/charts/ModeSpectrumChart").then((m) => ({ default: m.ModeSpectrumChart })),
);

export default function HeadPage() {
  return (
    <ModelGate>
      {({ summary, position: { layer, head } }) =>
        layer === null || head === null ? null : <HeadView summary={summary} layer={layer} head={head} />
      }
    </ModelGate>
  );
}

function HeadView({ summary, layer, head }: { summary: ModelSummary; layer: number; head: number }) {
  const [search, setSearch] = useSearchParams();
  const navigate = useNavigate();
  const basis = parseBasis(search.get("basis"));
  const embed = useEmbedOptions();
  const model = summary.slug;
  useDocumentTitle(pageTitle.head(summary.model_id, layer, head));

  const detail = useHead(summary, layer, head, basis);
  const share = {
    address: `${headPath(model, layer, head)}?basis=${basis}`,
    title: `Head ${modeName(layer, head)}, ${basis} basis, of ${summary.model_id} (qkatlas)`,
    parts: HEAD_EMBED_PARTS,
    model: summary,
    position: { layer, head, basis, mode: null, sign: null },
  };
  const modes = (
    <Loaded state={detail} label="Loading modes…">
      {(d) => <HeadModes detail={d} basis={basis} />}
    </Loaded>
  );

  const withBasis = (path: string) => (basis === "faithful" ? path : `${path}?basis=${basis}`);
  const prev = stepHead({ layer, head }, -1, summary.n_layers, summary.n_heads);
  const next = stepHead({ layer, head }, 1, summary.n_layers, summary.n_heads);
  useKeyNav({
    prev: prev ? () => navigate(withBasis(headPath(model, prev.layer, prev.head))) : undefined,
    next: next ? () => navigate(withBasis(headPath(model, next.layer, next.head))) : undefined,
  });
  if (embed.embedded) {
    return (
      <>
        {showsPart(embed, "badge") ? (
          <EmbedBadge title={`Head ${modeName(layer, head)}`} detail={`${summary.model_id} · ${basis} basis`} />
        ) : null}
        {modes}
      </>
    );
  }

  return (
    <>
      <Breadcrumbs
        items={[
          { label: "Models", to: "/" },
          { label: summary.model_id, to: modelPath(model) },
          { label: modeName(layer, head) },
        ]}
      />
      <ModelTitle model={summary}>
        Head {modeName(layer, head)} <span className="subtitle">{summary.model_id}</span>
      </ModelTitle>
      <div className="toolbar">
        <StepLinks
          label="Neighbouring heads"
          prev={{
            label: prev ? modeName(prev.layer, prev.head) : "first head",
            to: prev ? withBasis(headPath(model, prev.layer, prev.head)) : null,
          }}
          next={{
            label: next ? modeName(next.layer, next.head) : "last head",
            to: next ? withBasis(headPath(model, next.layer, next.head)) : null,
          }}
        />
        {summary.bases.length > 1 ? (
          <SegmentedControl<Basis>
            label="Basis"
            help="basis"
            value={basis}
            options={summary.bases.map((b) => ({ value: b, label: b }))}
            onChange={(b) => setSearch(b === "faithful" ? {} : { basis: b }, { replace: true })}
          />
        ) : null}
        <ShareMenu target={share} />
        <DownloadFigure
          of={{ model, revision: summary.revision, layer, head, sign: "pos", basis }}
          options={DEFAULT_OVERLAY}
        />
      </div>
      <KeyHints inner="head" />
      <HowToRead page="head" />
      {plantedModesAt(summary, layer, head, null).map((p) => (
        <PlantedModeNote key={p.mode} model={summary} planted={p} link />
      ))}
      {modes}
    </>
  );
}

function HeadModes({ detail, basis }: { detail: HeadDetail; basis: Basis }) {
  const navigate = useNavigate();
  const embed = useEmbedOptions();
  const link = (mode: number) => modePath(detail.model, detail.layer, detail.head, mode, { sign: "pos", basis });
  if (detail.modes.length === 0) return <Empty>This head has no modes.</Empty>;
  const nInactive = detail.modes.filter((m) => !m.active).length;
  return (
    <>
      {!showsPart(embed, "spectrum") ? null : detail.active ? (
        <>
          <p>
            σ-weighted cosine of this head
            <HelpTip term="weightedCos" />: <strong>{fmt(detail.weighted_cos)}</strong>
            {nInactive > 0 ? (
              <span className="muted">
                {" "}
                ({integer(nInactive)} of {count(detail.modes.length, "mode")} {INACTIVE_LABEL}: W_q or W_k is
                rank-deficient)
              </span>
            ) : null}
          </p>
          <Suspense fallback={<Loading label="Loading chart…" />}>
            <ModeSpectrumChart
              title={`σ and cosine of the ${count(detail.modes.length, "mode")} (click a bar to open the mode)`}
              modes={detail.modes}
              onSelect={(mode) => (embed.embedded ? openInFullApp(link(mode)) : navigate(link(mode)))}
              fileName={[detail.model, `L${detail.layer}-H${detail.head}`, "mode-spectrum"]}
              context={{ model: detail.model, layer: String(detail.layer), head: String(detail.head) }}
            />
          </Suspense>
        </>
      ) : (
        <div className="status status-empty" role="note">
          <strong>This head is inactive:</strong> every σ is 0 (its W_q or W_k is zero, as in a pruned or dead head), so
          none of its modes contributes to attention and it has no weighted cosine and no top images.
        </div>
      )}
      {!showsPart(embed, "modes") ? null : (
        <section aria-labelledby="modes-heading">
          <h2 id="modes-heading">Modes</h2>
          <div className="table-scroll">
            <table className="data-table">
              <thead>
                <tr>
                  <th scope="col">mode</th>
                  <th scope="col">best image</th>
                  <th scope="col">
                    σ<HelpTip term="sigma" />
                  </th>
                  <th scope="col">
                    attention moved
                    <HelpTip term="effect" />
                  </th>
                  <th scope="col">
                    cos u·v
                    <HelpTip term="cos" />
                  </th>
                  <th scope="col">
                    best score, pos
                    <HelpTip term="score" />
                  </th>
                  <th scope="col">
                    best score, neg
                    <HelpTip term="neg" />
                  </th>
                </tr>
              </thead>
              <tbody>
                {detail.modes.map((m) => (
                  <ModeRow key={m.mode} detail={detail} mode={m} basis={basis} />
                ))}
              </tbody>
            </table>
          </div>
          <EffectNote missing={detail.effects_missing ?? null} />
        </section>
      )}
    </>
  );
}

function ModeRow({ detail, mode: m, basis }: { detail: HeadDetail; mode: ModeSummary; basis: Basis }) {
  const link = (mode: number) => modePath(detail.model, detail.layer, detail.head, mode, { sign: "pos", basis });
  const onImageError = useAtlasImageError();
  if (!m.active) {
    // σ = 0: no cosine, no images, no scores to link to.
    return (
      <tr className="row-inactive">
        <th scope="row">
          <Link to={link(m.mode)}>{modeName(detail.layer, detail.head, m.mode)}</Link> <InactiveBadge />
          <HelpTip term="inactive" />
        </th>
        <td>
          <span className="muted">none</span>
        </td>
        <td>{fmt(m.sigma)}</td>
        <td>–</td>
        <td>–</td>
        <td>–</td>
        <td>–</td>
      </tr>
    );
  }
  return (
    <tr>
      <th scope="row">
        <Link to={link(m.mode)}>{modeName(detail.layer, detail.head, m.mode)}</Link>{" "}
        {m.degenerate ? (
          <>
            <DegenerateBadge />
            <HelpTip term="degenerate" />
          </>
        ) : null}
      </th>
      <td>
        {m.best_image.pos ? (
          <Link
            to={topImagePath(detail.model, detail.layer, detail.head, m.mode, { sign: "pos", basis }, 0)}
            title="Open the large view of this image"
          >
            <img
              className="thumb"
              src={m.best_image.pos.thumbnail_url}
              alt={`Best image of ${modeName(detail.layer, detail.head, m.mode)} pos: open its large view`}
              width={160}
              height={160}
              loading="lazy"
              onError={onImageError}
            />
          </Link>
        ) : (
          <span className="muted">none</span>
        )}
      </td>
      <td>{fmt(m.sigma)}</td>
      <td>
        <EffectCell effect={m.effect_mean ?? null} />
      </td>
      <td>{fmt(m.cos)}</td>
      <td>
        <Link to={modePath(detail.model, detail.layer, detail.head, m.mode, { sign: "pos", basis })}>
          {fmt(m.best_score.pos)}
        </Link>
        {m.never_fires?.pos ? <NeverFiresBadge /> : null}
      </td>
      <td>
        <Link to={modePath(detail.model, detail.layer, detail.head, m.mode, { sign: "neg", basis })}>
          {fmt(m.best_score.neg)}
        </Link>
        {m.never_fires?.neg ? <NeverFiresBadge /> : null}
      </td>
    </tr>
  );
}

/** A mode's mean attention moved: the number, and a bar on the fixed 0 to 100 % scale (never the head's own maximum). */
function EffectCell({ effect }: { effect: number | null }) {
  if (effect === null) return <span className="muted">—</span>;
  return (
    <span className="effect-cell">
      <span className="effect-bar" aria-hidden="true">
        <span style={{ width: `${Math.min(100, effect * 100)}%` }} />
      </span>
      {movedText(effect)}
    </span>
  );
}

function EffectNote({ missing }: { missing: string | null }) {
  if (missing !== null) {
    return (
      <p className="muted small" role="note">
        Attention moved: {missing}.
      </p>
    );
  }
  return (
    <p className="muted small">
      Attention moved: the mean share of each patch&apos;s attention row that removing the mode moves, over every image
      of the dataset (bar: 0 to 100 %). σ says how strongly a mode could act; this says what it does with the
      head&apos;s other modes in place: a large σ that moves little is strong but unused, a small σ that moves much is
      weak but decisive.
    </p>
  );
}
