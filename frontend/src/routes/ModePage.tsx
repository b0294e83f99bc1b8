/**
 * Mode: σ, cosine, rank, the top-K images with their query/key overlays, the score over the whole
 * dataset (distribution, mean ± std, how often it fires) and the classes it prefers, and stepping
 * controls.
 */
import { lazy, Suspense, useState } from "react";
import { HowToRead } from "../components/ui/HowToRead";
import { Link, useNavigate, useSearchParams } from "react-router";
import type { Basis, ModeDetail, ModelSummary, Sign, UploadModeStanding } from "../api/client";
import { BASES } from "../api/enums";
import { type SignedModeAt, useMode, useModeSamples, useUploadModeStanding } from "../api/resources";
import { isUploadId } from "../api/uploadUrls";
import { Breadcrumbs } from "../components/layout/Breadcrumbs";
import { Facts } from "../components/ui/Facts";
import { DownloadFigure } from "../components/figure/DownloadFigure";
import { KeyHints } from "../components/layout/KeyHints";
import { PlantedModeNote, plantedModesAt } from "../components/model/PlantedModes";
import { ModelGate } from "../components/layout/ModelGate";
import { NotFound } from "../components/layout/NotFound";
import { ModelTitle } from "../components/layout/ModelHeader";
import { OverlayControls } from "../components/mode/OverlayControls";
import { SegmentedControl } from "../components/ui/SegmentedControl";
import { ClassProfile } from "../components/mode/ClassProfile";
import { HelpTip } from "../components/ui/HelpTip";
import { Empty, Loaded, Loading } from "../components/ui/Status";
import { StepLinks } from "../components/layout/StepLinks";
import { TopImageGrid } from "../components/mode/TopImageGrid";
import { TryYourImage } from "../components/mode/TryYourImage";
import { bandOfBar, bandRowId, DistributionSamples, sampledInOrder } from "../components/mode/DistributionSamples";
import { DatasetImageLargeView } from "../components/mode/DatasetImageLargeView";
import { MapScaleLegend } from "../components/mode/MapScaleLegend";
import { SimilarModes } from "../components/mode/SimilarModes";
import { ModeEffectSection } from "../components/mode/ModeEffectSection";
import { AddToList } from "../components/lists/AddToList";
import { count, fmt, integer, modeName, percent, plural } from "../lib/common/format";
import { GLOSSARY } from "../lib/help/glossary";
import { useKeyNav } from "../lib/keys/keyboard";
import { LARGE_VIEW_PARAM, largeViewRank, largeViewSearch } from "../lib/mode/largeView";
import { cutoffTieText } from "../lib/mode/cutoffTie";
import { type ModeView, modeViewSearch, parseModeView } from "../lib/mode/modeView";
import { usePendingMoves } from "../lib/common/usePendingMoves";
import { stepHead, stepIndex } from "../lib/mode/neighbours";
import { classPath, headPath, modeIndexPath, modelPath } from "../lib/address/paths";
import { useDocumentTitle } from "../lib/common/useDocumentTitle";
import { EmbedBadge } from "../components/layout/EmbedBadge";
import { ShareMenu } from "../components/share/ShareMenu";
import { keepEmbed, MODE_EMBED_PARTS, showsPart, useEmbedOptions } from "../lib/embed/embedOptions";
import { pageTitle } from "../lib/common/pageTitles";

const ScoreDistributionChart = lazy(() =>
  import("../components/charts/ScoreDistributionChart").then((m) => ({ default: m.ScoreDistributionChart })),
);

interface Position {
  layer: number;
  head: number;
  mode: number;
}

export default function ModePage() {
  return (
    <ModelGate>
      {({ summary, position: { layer, head, mode } }) =>
        layer === null || head === null || mode === null ? null : (
          <ModeView summary={summary} pos={{ layer, head, mode }} />
        )
      }
    </ModelGate>
  );
}

function ModeView({ summary, pos }: { summary: ModelSummary; pos: Position }) {
  const [search] = useSearchParams();
  const navigate = useNavigate();
  const view = parseModeView(search);
  const embed = useEmbedOptions();
  const model = summary.slug;
  const name = modeName(pos.layer, pos.head, pos.mode);
  useDocumentTitle(pageTitle.mode(summary.model_id, pos.layer, pos.head, pos.mode, view.sign));

  // In an embed, a change of the view (an attached upload) stays embedded.
  const href = (p: Position, v: ModeView = view) =>
    keepEmbed(`${headPath(model, p.layer, p.head)}/M${p.mode}${modeViewSearch(v)}`, search);
  const share = {
    address: `${headPath(model, pos.layer, pos.head)}/M${pos.mode}${modeViewSearch({ ...view, upload: null })}`,
    title: `${name} ${view.sign}, ${view.basis} basis, of ${summary.model_id} (qkatlas)`,
    parts: MODE_EMBED_PARTS,
    model: summary,
    position: { ...pos, sign: view.sign, basis: view.basis },
  };
  const moves = usePendingMoves({ pos, view }, (state) => href(state.pos, state.view));
  const moveTo = (to: { pos: Position; view: ModeView }, replace: boolean) => {
    moves.moved(to);
    void navigate(href(to.pos, to.view), { replace });
  };
  const setView = (change: Partial<ModeView>) => {
    const now = moves.current();
    moveTo({ pos: now.pos, view: { ...now.view, ...change } }, true);
  };

  const prevMode = stepIndex(pos.mode, -1, summary.n_modes);
  const nextMode = stepIndex(pos.mode, 1, summary.n_modes);
  const prevHead = stepHead(pos, -1, summary.n_layers, summary.n_heads);
  const nextHead = stepHead(pos, 1, summary.n_layers, summary.n_heads);
  const modeLink = (m: number | null) => (m === null ? null : href({ ...pos, mode: m }));
  const headLink = (h: { layer: number; head: number } | null) => (h === null ? null : href({ ...h, mode: pos.mode }));
  const detail = useMode(summary, pos, view);

  // An address naming a top image (`image=<rank>`) is checked before any control renders: a rank the
  // mode does not have gets the not-found page (no live controls, no keys), not a page with the large
  // view silently closed.
  const requestedRank = search.get(LARGE_VIEW_PARAM);
  const rankPending = requestedRank !== null && detail.status === "loading";
  const rankMissing =
    requestedRank !== null && detail.status === "ok" && largeViewRank(search, detail.data.top_images.length) === null;
  const go = (exists: boolean, move: (from: Position) => Position | null) =>
    exists && !rankPending && !rankMissing
      ? () => {
          const now = moves.current();
          const to = move(now.pos);
          if (to) moveTo({ pos: to, view: now.view }, false);
        }
      : undefined;
  const stepMode = (delta: 1 | -1) => (from: Position) => {
    const mode = stepIndex(from.mode, delta, summary.n_modes);
    return mode === null ? null : { ...from, mode };
  };
  const stepHeadKeepingMode = (delta: 1 | -1) => (from: Position) => {
    const head = stepHead(from, delta, summary.n_layers, summary.n_heads);
    return head === null ? null : { ...head, mode: from.mode };
  };
  useKeyNav({
    prev: go(prevMode !== null, stepMode(-1)),
    next: go(nextMode !== null, stepMode(1)),
    prevOuter: go(prevHead !== null, stepHeadKeepingMode(-1)),
    nextOuter: go(nextHead !== null, stepHeadKeepingMode(1)),
  });

  if (rankPending) return <Loading label="Loading top images…" />;
  if (rankMissing && requestedRank !== null) {
    return (
      <TopImageNotFound
        modePath={`${headPath(model, pos.layer, pos.head)}/M${pos.mode}`}
        view={view}
        name={name}
        requested={requestedRank}
        count={detail.status === "ok" ? detail.data.top_images.length : 0}
      />
    );
  }

  const body = (
    <Loaded state={detail} label="Loading top images…">
      {(d) => (
        <ModeBody
          detail={d}
          summary={summary}
          view={view}
          name={name}
          pos={pos}
          // A new entry: Back returns to the page without the upload (or with the one before).
          onAttach={(upload) => {
            const now = moves.current();
            moveTo({ pos: now.pos, view: { ...now.view, upload } }, false);
          }}
        />
      )}
    </Loaded>
  );
  if (embed.embedded) {
    return (
      <>
        {showsPart(embed, "badge") ? (
          <EmbedBadge title={`Mode ${name} ${view.sign}`} detail={`${summary.model_id} · ${view.basis} basis`} />
        ) : null}
        {body}
      </>
    );
  }
  return (
    <>
      <Breadcrumbs
        items={[
          { label: "Models", to: "/" },
          { label: summary.model_id, to: modelPath(model) },
          { label: modeName(pos.layer, pos.head), to: headPath(model, pos.layer, pos.head) },
          { label: `M${pos.mode}` },
        ]}
      />
      <ModelTitle model={summary}>
        Mode {name} <span className="subtitle">{summary.model_id}</span>
      </ModelTitle>
      <div className="toolbar">
        <StepLinks
          label="Neighbouring modes"
          prev={{ label: prevMode === null ? "first mode" : `M${prevMode}`, to: modeLink(prevMode) }}
          next={{ label: nextMode === null ? "last mode" : `M${nextMode}`, to: modeLink(nextMode) }}
        />
        <StepLinks
          label="Neighbouring heads"
          prev={{ label: prevHead ? modeName(prevHead.layer, prevHead.head) : "first head", to: headLink(prevHead) }}
          next={{ label: nextHead ? modeName(nextHead.layer, nextHead.head) : "last head", to: headLink(nextHead) }}
        />
        <Link className="button" to={modeIndexPath(model)}>
          Mode index
        </Link>
        <ShareMenu target={share} />
        <DownloadFigure
          of={{ model, revision: summary.revision, ...pos, sign: view.sign, basis: view.basis }}
          options={view}
        />
      </div>
      <KeyHints inner="mode" outer="head" />
      <HowToRead page="mode" />
      {plantedModesAt(summary, pos.layer, pos.head, pos.mode).map((p) => (
        <PlantedModeNote key={p.mode} model={summary} planted={p} sign={view.sign} />
      ))}
      <div className="controls">
        <SegmentedControl<Sign>
          label="Sign"
          help="sign"
          value={view.sign}
          options={[
            { value: "pos", label: "pos (u, v)" },
            { value: "neg", label: "neg (−u, −v)" },
          ]}
          onChange={(sign) => setView({ sign })}
        />
        <SegmentedControl<Basis>
          label="Basis"
          help="basis"
          value={view.basis}
          options={BASES.map((b) => ({
            value: b,
            label: b,
            disabled: !summary.bases.includes(b),
          }))}
          onChange={(basis) => setView({ basis })}
        />
      </div>
      <AddToList
        key={`${model}/${name}/${view.sign}/${view.basis}`}
        mode={{ model, modelId: summary.model_id, ...pos, sign: view.sign, basis: view.basis }}
      />
      {detail.status === "ok" && !detail.data.active ? null : (
        <OverlayControls value={view} onChange={(o) => setView(o)} />
      )}
      {body}
    </>
  );
}

/** The `band=` of the address: the band of the distribution picked on the histogram. */
const BAND_PARAM = "band";

function ModeBody({
  detail,
  summary,
  view,
  name,
  pos,
  onAttach,
}: {
  detail: ModeDetail;
  summary: ModelSummary;
  view: ModeView;
  name: string;
  pos: Position;
  onAttach: (upload: string | null) => void;
}) {
  const [search, setSearch] = useSearchParams();
  const embed = useEmbedOptions();
  const samples = useModeSamples(summary, pos, view);
  // A sampled image open in the large view, under the mode it was opened from or one `[`/`]` stepped to.
  const [openedSample, setOpenedSample] = useState<{ position: number; at: SignedModeAt } | null>(null);
  const sampled = samples.status === "ok" && samples.data.samples_missing === null ? sampledInOrder(samples.data) : [];
  const picked = Number.parseInt(search.get(BAND_PARAM) ?? "", 10);
  const bands = samples.status === "ok" && samples.data.samples_missing === null ? samples.data.bands : [];
  const selectedBand = bands.some((b) => b.band === picked) ? picked : null;
  const nBins = (detail.distribution?.edges.length ?? 1) - 1;
  const pickBar = (bar: number) => {
    const band = bandOfBar(bands, bar, nBins);
    if (band === null) return;
    setSearch(
      (previous) => {
        const next = new URLSearchParams(previous);
        next.set(BAND_PARAM, String(band));
        return next;
      },
      { replace: true },
    );
    document.getElementById(bandRowId(band))?.scrollIntoView({ block: "nearest" });
    document.getElementById(bandRowId(band))?.focus({ preventScroll: true });
  };
  const selected = bands.find((b) => b.band === selectedBand);
  const highlighted = selected
    ? new Set(
        Array.from({ length: selected.n_bins }, (_, i) => selected.first_bin + 1 + i).concat(
          selected.band === 0 ? [0] : selected.band === bands.length - 1 ? [nBins + 1] : [],
        ),
      )
    : undefined;
  const uploadId = view.upload !== null && isUploadId(view.upload) ? view.upload : null;
  const standing = useUploadModeStanding(uploadId, summary, pos, view);
  const yours = uploadId === null ? null : standing;
  const tryYourImage = !showsPart(embed, "try") ? null : (
    <TryYourImage
      summary={summary}
      pos={pos}
      view={view}
      modeLabel={`${name} ${view.sign}`}
      standing={yours}
      onAttach={onAttach}
    />
  );
  if (!detail.active) {
    return (
      <>
        <div className="status status-empty" role="note">
          <strong>This mode is inactive.</strong> {GLOSSARY.inactive.text}
        </div>
        <Facts
          inline
          className="mode-stats"
          items={[
            ["σ", fmt(detail.sigma), "sigma"],
            ["rank by σ", `${integer(detail.mode + 1)} of ${integer(summary.n_modes)}`],
          ]}
        />
        {tryYourImage}
      </>
    );
  }
  return (
    <>
      {detail.degenerate ? (
        <div className="status status-warn" role="note">
          <strong>Degenerate mode.</strong> {GLOSSARY.degenerate.text}
        </div>
      ) : null}
      {detail.distribution?.never_fires ? (
        <div className="status status-warn" role="note">
          <strong>Never fires.</strong> {GLOSSARY.neverFires.text} (The paper&apos;s scoring rule ranks them by that
          product.)
        </div>
      ) : null}
      <Facts
        inline
        className="mode-stats"
        items={[
          ["σ", fmt(detail.sigma), "sigma"],
          ["share of the head's σ", percent(detail.sigma_fraction), "sigmaShare"],
          ["cos u·v", fmt(detail.cos), "cos"],
          ["rank by σ", `${integer(detail.mode + 1)} of ${integer(summary.n_modes)}`],
        ]}
      />
      {tryYourImage}
      {!showsPart(embed, "top") ? null : (
        <section aria-labelledby="top-heading">
          <div className="heading-row">
            <h2 id="top-heading">
              Top {detail.top_images.length === 0 ? "images" : count(detail.top_images.length, "image")},{" "}
              {view.sign === "pos" ? "positive" : "negative"} sign, {view.basis} basis
            </h2>
            <HelpTip term="evidence" />
          </div>
          {detail.top_images.length === 0 || detail.map_scale === null ? (
            <Empty>No image in {summary.dataset.name} excites this mode.</Empty>
          ) : (
            <>
              <MapScaleLegend scale={detail.map_scale} options={view} />
              <TopImageGrid
                images={detail.top_images}
                modeLabel={`${name} ${view.sign}`}
                options={view}
                labelHref={detail.class_profile ? classPath : undefined}
                preprocessing={summary.preprocessing.description}
                explore={{
                  model: summary.slug,
                  layer: detail.layer,
                  head: detail.head,
                  basis: view.basis,
                  highlight: { mode: detail.mode, sign: view.sign },
                }}
                scale={detail.map_scale}
                withPhoto={summary.planted}
                tiedFrom={detail.cutoff_tie?.first_rank ?? null}
              />
              <CutoffTieNote detail={detail} />
            </>
          )}
          {detail.left_out > 0 && detail.top_images.length > 0 ? (
            <p className="muted small">
              {integer(detail.left_out)} more of the top {integer(detail.top_images.length + detail.left_out)} by the
              paper&apos;s rule {plural(detail.left_out, "is", "are")} not shown:{" "}
              {plural(detail.left_out, "its score is", "their scores are")} not above the noise floor.
            </p>
          ) : null}
        </section>
      )}
      <div className="two-col">
        {!showsPart(embed, "distribution") ? null : (
          <Distribution
            detail={detail}
            summary={summary}
            name={`${name} ${view.sign}`}
            yours={yours?.status === "ok" ? yours.data : null}
            highlighted={highlighted}
            onBarClick={bands.length > 0 ? pickBar : undefined}
          />
        )}
        {!showsPart(embed, "classes") ? null : detail.class_profile ? (
          <ClassProfile profile={detail.class_profile} name={`${name} ${view.sign}`} topK={detail.top_images.length} />
        ) : detail.distribution ? (
          <section aria-labelledby="classes-heading">
            <h2 id="classes-heading">Classes</h2>
            <p className="muted">The dataset has no class labels, so this mode has no class profile.</p>
          </section>
        ) : null}
      </div>
      {embed.embedded ? null : (
        <ModeEffectSection
          effect={detail.effect ?? null}
          missing={detail.effect_missing ?? null}
          name={name}
          at={{ ...pos, sign: view.sign, basis: view.basis }}
          model={summary.slug}
          revision={summary.revision}
          nModes={summary.n_modes}
          options={view}
          preprocessing={summary.preprocessing.description}
          labelHref={classPath}
          context={{ model: summary.model_id, mode: name }}
        />
      )}
      {detail.distribution && showsPart(embed, "samples") ? (
        <section aria-labelledby="samples-heading">
          <div className="heading-row">
            <h2 id="samples-heading">Across the distribution</h2>
            <HelpTip term="samples" />
          </div>
          <Loaded state={samples} label="Loading samples…">
            {(s) => (
              <DistributionSamples
                samples={s}
                selectedBand={selectedBand}
                labelHref={detail.class_profile ? classPath : undefined}
                onOpen={(position) =>
                  setOpenedSample({
                    position,
                    at: { layer: pos.layer, head: pos.head, mode: pos.mode, sign: view.sign, basis: view.basis },
                  })
                }
              />
            )}
          </Loaded>
          {openedSample !== null && sampled.length > 0 ? (
            <DatasetImageLargeView
              of={{ model: summary.slug, revision: summary.revision, images: sampled }}
              at={openedSample.at}
              position={openedSample.position}
              what="sampled image"
              nModes={summary.n_modes}
              options={view}
              preprocessing={summary.preprocessing.description}
              labelHref={classPath}
              onMove={(position, at) => setOpenedSample({ position, at })}
              onClose={() => setOpenedSample(null)}
            />
          ) : null}
        </section>
      ) : null}
      {embed.embedded ? null : <SimilarModes model={summary.slug} position={pos} view={view} />}
    </>
  );
}

/** The score over every image of the dataset, or why the atlas cannot show it. */
function Distribution({
  detail,
  summary,
  name,
  yours,
  highlighted,
  onBarClick,
}: {
  detail: ModeDetail;
  summary: ModelSummary;
  name: string;
  /** The attached upload, marked on the histogram. */
  yours: UploadModeStanding | null;
  highlighted?: ReadonlySet<number> | undefined;
  onBarClick?: ((bar: number) => void) | undefined;
}) {
  const d = detail.distribution;
  return (
    <section aria-labelledby="distribution-heading">
      <div className="heading-row">
        <h2 id="distribution-heading">Score over the dataset</h2>
        <HelpTip term="score" />
      </div>
      {d === null ? (
        <div className="status status-empty" role="note">
          <strong>Distribution not computed:</strong>{" "}
          {detail.statistics_missing ?? summary.statistics.note ?? "rebuild the atlas to add it"}.
        </div>
      ) : (
        <>
          <Facts
            inline
            className="mode-stats"
            items={[
              ["mean ± std", `${fmt(d.mean)} ± ${fmt(d.std)}`],
              ["range", `${fmt(d.minimum)} to ${fmt(d.maximum)}`],
              [
                "fires on",
                `${integer(d.firing)} of ${count(d.count, "image")} (${percent(d.count > 0 ? d.firing / d.count : 0)})`,
                "firesOn",
              ],
            ]}
          />
          <Suspense fallback={<Loading label="Loading chart…" />}>
            <ScoreDistributionChart
              title={`Score of ${name} on each of the ${count(d.count, "image")}`}
              name={name}
              distribution={d}
              top={detail.top_images.map((t) => ({ rank: t.rank, score: t.score }))}
              fileName={[
                detail.model,
                `L${detail.layer}-H${detail.head}-M${detail.mode}-${detail.sign}`,
                detail.basis,
                "score-distribution",
              ]}
              context={{ model: summary.model_id, mode: name, basis: detail.basis }}
              marker={yours ? { score: yours.score, label: "your image" } : undefined}
              highlighted={highlighted}
              onBarClick={onBarClick}
            />
          </Suspense>
          <p className="muted small">
            Bars: images per bin, from the first bin the scores reach to the last (empty bins beyond them are left out);
            an outer bar, labelled min or max, counts the scores below the first bin or from the last on. Band: mean ±
            std; dashed: the mean; solid lines: the top {count(detail.top_images.length, "image")}
            {yours ? "; thick blue line: your image" : ""}.
            {onBarClick ? " Click a bar to see images from its part of the range (below)." : ""}
          </p>
          <details className="small muted">
            <summary>How the bins are fixed</summary>
            {d.binning}.
          </details>
        </>
      )}
    </section>
  );
}

/** The not-found page of a mode address whose `image=` names no top image of the signed mode. */
function TopImageNotFound({
  modePath,
  view,
  name,
  requested,
  count: nTop,
}: {
  modePath: string;
  view: ModeView;
  name: string;
  requested: string;
  count: number;
}) {
  const viewSearch = new URLSearchParams(modeViewSearch(view));
  const exists =
    nTop === 0
      ? `This signed mode has no top images in the ${view.basis} basis.`
      : `This signed mode has ${count(nTop, "top image")} in the ${view.basis} basis: image=0–${nTop - 1} (ranks #1–#${integer(nTop)}).`;
  return (
    <NotFound
      problem={
        <>
          {name} {view.sign} has no top image <code>image={requested}</code>.
        </>
      }
      exists={exists}
      links={[
        { label: `${name} ${view.sign}, ${view.basis} basis`, to: `${modePath}${largeViewSearch(viewSearch, null)}` },
        ...(nTop > 0 ? [{ label: "Its best image (#1)", to: `${modePath}${largeViewSearch(viewSearch, 0)}` }] : []),
      ]}
    />
  );
}

/** Next to the last places: they tie with the best image left out of the top images at the atlas's precision. */
function CutoffTieNote({ detail }: { detail: ModeDetail }) {
  const text = cutoffTieText(detail.cutoff_tie, detail.top_images.length);
  const tie = detail.cutoff_tie;
  if (text === null || !tie) return null;
  return (
    <p className="muted small cutoff-tie" role="note">
      {text} Their scores lie within a score&apos;s rounding at this precision (ε = {fmt(tie.epsilon)} relative) of the
      best image left out, which scores {fmt(tie.next_score)}. <HelpTip term="tie" />
    </p>
  );
}
