/**
 * Upload: send an image, then, for a chosen model, the modes it drives most in the whole model; for a
 * chosen layer and head, the modes ranked for it, each with its maps on the image beside the mode's
 * top dataset images; the attention row of a chosen patch and the modes that drive it (exact basis);
 * what removing modes of the head changes (attention and output); and every served model's top modes
 * side by side. `/upload/{id}?model=…` is a shareable link while
 * the upload is cached; an address that cannot be an upload, or one that has expired, says so.
 */
import { useCallback, useEffect, useState } from "react";
import { useLocation, useNavigate, useParams, useSearchParams } from "react-router";
import type { DatasetImageUpload, ModelSummary, Upload, UploadHeadModes } from "../api/client";
import { useModels, useUpload, useUploadHeadModes } from "../api/resources";
import { isUploadId, uploadImageUrl } from "../api/uploadUrls";
import { useUploadFile } from "../api/useUploadFile";
import { rememberUpload } from "../lib/upload/recentUploads";
import { AblationPanel } from "../components/ablation/AblationPanel";
import { AttentionExplorer } from "../components/explorer/AttentionExplorer";
import { CopyLinkButton } from "../components/layout/CopyLinkButton";
import { DemoBadge } from "../components/layout/DemoBadge";
import { HowToRead } from "../components/ui/HowToRead";
import { KeyHints } from "../components/layout/KeyHints";
import { NotFound } from "../components/layout/NotFound";
import { OverlayControls } from "../components/mode/OverlayControls";
import { KeySaliencePanel } from "../components/explorer/KeySaliencePanel";
import { RankedModeCard } from "../components/upload/RankedModeCard";
import { Empty, Loaded } from "../components/ui/Status";
import { UploadDropzone } from "../components/upload/UploadDropzone";
import { UploadHeadPicker } from "../components/upload/UploadHeadPicker";
import { AcrossModels, WholeModelModes } from "../components/upload/UploadModelRanking";
import { datasetImageOf } from "../lib/mode/datasetImage";
import { count, duration, modeName } from "../lib/common/format";
import { useKeyNav } from "../lib/keys/keyboard";
import { stepHead } from "../lib/mode/neighbours";
import type { OverlayOptions } from "../lib/mode/overlay";
import { type SignedMode, uploadPath } from "../lib/address/paths";
import { useDocumentTitle } from "../lib/common/useDocumentTitle";
import { pageTitle } from "../lib/common/pageTitles";
import {
  highlightedIndex,
  isHighlighted,
  resolveUploadView,
  uploadViewProblem,
  type UploadViewProblem,
  type UploadViewState,
} from "../lib/upload/uploadView";

const SHOWN_MODES = 6;
const DATASET_IMAGES = 3;

export default function UploadPage() {
  const { uploadId } = useParams();
  if (uploadId !== undefined && !isUploadId(uploadId)) return <UploadNotFound reason="malformed" />;
  return <UploadHome uploadId={uploadId} />;
}

function UploadHome({ uploadId }: { uploadId: string | undefined }) {
  useDocumentTitle(pageTitle.upload());
  const navigate = useNavigate();
  const [search] = useSearchParams();
  const onDone = useCallback(
    (upload: Upload) => navigate(uploadPath(upload.id, { model: search.get("model") ?? undefined })),
    [navigate, search],
  );
  const [state, send] = useUploadFile(onDone);
  const upload = useUpload(uploadId);
  const models = useModels();
  if (uploadId !== undefined && upload.status === "error" && upload.httpStatus === 404) {
    return <UploadNotFound reason="expired" />;
  }
  // Said instead of the page (not under it), and never as another head than the address names.
  const wrong = uploadId !== undefined && models.status === "ok" ? uploadViewProblem(search, models.data) : null;
  if (uploadId !== undefined && wrong !== null && upload.status === "ok") {
    return <UploadViewNotFound uploadId={uploadId} wrong={wrong} />;
  }
  return (
    <>
      <h1>Analyse your own image</h1>
      <HowToRead page="upload" />
      <UploadDropzone state={state} onFile={(file) => void send(file)} />
      {uploadId !== undefined ? (
        <Loaded state={upload} label="Loading your upload…">
          {(u) => <UploadAnalysis upload={u} />}
        </Loaded>
      ) : null}
    </>
  );
}

/** An upload address that names no upload: in words, with the way to upload again, and no controls. */
function UploadNotFound({ reason }: { reason: "malformed" | "expired" }) {
  return (
    <NotFound
      title={reason === "malformed" ? "Not an upload address" : "This upload has expired"}
      problem={
        reason === "malformed"
          ? "This is not an upload address: an upload's address ends in the 32 hexadecimal digits the server gave it."
          : "This upload has expired: uploads are kept for 24 hours (unless the server is set otherwise); upload the image again."
      }
      links={[{ label: "Upload an image", to: uploadPath() }]}
      linksLabel="Upload again"
    />
  );
}

function UploadAnalysis({ upload }: { upload: Upload }) {
  const models = useModels();
  // Offered again on mode pages ("Try your image": your recent uploads).
  useEffect(() => rememberUpload(upload), [upload]);
  return (
    <Loaded state={models} label="Loading models…">
      {(list) =>
        list.length === 0 ? (
          <Empty>No atlas is being served, so there is no model to analyse with.</Empty>
        ) : (
          <UploadView upload={upload} models={list} />
        )
      }
    </Loaded>
  );
}

/** An upload view whose model, layer or head names nothing: what is wrong, and the views that exist. */
function UploadViewNotFound({ uploadId, wrong }: { uploadId: string; wrong: UploadViewProblem }) {
  const links = wrong.candidates.length
    ? wrong.candidates.map((m) => ({
        label: `${m.model_id} on ${m.dataset.name}`,
        to: uploadPath(uploadId, { model: m.slug }),
      }))
    : [{ label: "Your upload in the first served model", to: uploadPath(uploadId) }];
  return (
    <NotFound
      title="No such view of your upload"
      problem={wrong.problem}
      exists={wrong.exists}
      links={links}
      linksLabel="Views of your upload"
    />
  );
}

function UploadView({ upload, models }: { upload: Upload; models: ModelSummary[] }) {
  const [search] = useSearchParams();
  const location = useLocation();
  const navigate = useNavigate();
  const datasetImage = datasetImageOf(location.state, upload.id);
  const view = resolveUploadView(search, models)!;
  const { model, layer, head, basis, patch, options } = view;
  // Whether the page is in the exact basis because a patch was picked in the faithful one (said where the row shows).
  const [switchedToExact, setSwitchedToExact] = useState(false);

  const go = (next: Partial<Omit<UploadViewState, "model"> & { model: string }>, replace = true) => {
    // The marked mode belongs to its head: another model, layer or head drops it.
    const sameHead =
      (next.model ?? model.slug) === model.slug && (next.layer ?? layer) === layer && (next.head ?? head) === head;
    const highlight = sameHead ? view.highlight : null;
    const ablation = sameHead ? view.ablation : null; // the removed modes belong to their head too
    const merged = { model: model.slug, layer, head, basis, patch, options, highlight, ablation, ...next };
    // The history state (a dataset image's provenance) stays with every view of the upload.
    navigate(uploadPath(upload.id, merged), { replace, state: location.state });
  };
  const pickPatch = (picked: number) => {
    if (basis === "faithful") setSwitchedToExact(true);
    go({ basis: "exact", patch: picked });
  };
  const prev = stepHead({ layer, head }, -1, model.n_layers, model.n_heads);
  const next = stepHead({ layer, head }, 1, model.n_layers, model.n_heads);
  useKeyNav({
    prev: prev ? () => go({ ...prev, patch: null }) : undefined,
    next: next ? () => go({ ...next, patch: null }) : undefined,
  });

  const imageSrc = uploadImageUrl(upload.id, model.slug, model.revision);
  return (
    <section aria-labelledby="analysis-heading" className="upload-analysis">
      <div className="page-title">
        <h2 id="analysis-heading">
          {datasetImage ? "The dataset image" : "Your image"} in {model.model_id}
        </h2>
        <DemoBadge model={model} />
      </div>
      <div className="upload-intro">
        <figure className="model-view">
          <img src={imageSrc} alt={`The image as ${model.model_id} sees it`} width={128} height={128} />
          <figcaption>
            As {model.model_id} sees it: {model.preprocessing.description}.
          </figcaption>
        </figure>
        <div>
          {datasetImage ? <DatasetImageNote image={datasetImage} /> : null}
          <p className="muted small">
            {upload.width}×{upload.height} px · kept for {duration(upload.expires_in_s)} more · this page&apos;s link
            works for anyone until then. <CopyLinkButton />
          </p>
        </div>
      </div>
      <UploadHeadPicker
        models={models}
        value={view}
        onChange={(v) => {
          setSwitchedToExact(false);
          go({ ...v, patch: v.basis === "exact" ? patch : null });
        }}
      />
      <KeyHints inner="head" />
      <OverlayControls value={options} onChange={(o) => go({ options: o })} />
      <WholeModelModes uploadId={upload.id} model={model} basis={basis} options={options} />
      <AttentionExplorer
        target={{ uploadId: upload.id, model: model.slug, layer, head, grid: model.grid, imageSrc }}
        basis={basis}
        hasExactBasis={model.bases.includes("exact")}
        switchedToExact={switchedToExact}
        patch={patch}
        onPick={pickPatch}
      />
      <AblationPanel
        target={{ uploadId: upload.id, model: model.slug, layer, head, grid: model.grid, imageSrc }}
        hasExactBasis={model.bases.includes("exact")}
        patch={basis === "exact" ? patch : null}
        choice={view.ablation}
        onChoose={(ablation) => go({ ablation })}
      />
      <RankedModes upload={upload} view={view} options={options} imageSrc={imageSrc} />
      <AcrossModels uploadId={upload.id} models={models} basis={basis} options={options} />
    </section>
  );
}

/** What a dataset image opened as an upload is, and whether its original file or the stored crop was used. */
function DatasetImageNote({ image }: { image: DatasetImageUpload }) {
  return (
    <p className="status status-note" role="note">
      This is a dataset image{image.label ? ` (${image.label})` : ""}, <span className="file-name">{image.source}</span>
      , one of the atlas&apos;s top images, analysed like an upload.
      {image.from_original_file
        ? " Its original file was used."
        : ` The stored crop (the image as the model saw it) was used instead of the original file: ${image.note ?? "the original is not at hand"}.`}
    </p>
  );
}

function RankedModes({
  upload,
  view,
  options,
  imageSrc,
}: {
  upload: Upload;
  view: UploadViewState;
  options: OverlayOptions;
  imageSrc: string;
}) {
  const { model, layer, head, basis, highlight } = view;
  const ranked = useUploadHeadModes(upload.id, model.slug, layer, head, basis);
  return (
    <section aria-labelledby="ranked-heading">
      <h2 id="ranked-heading">Modes of {modeName(layer, head)} ranked for your image</h2>
      <Loaded state={ranked} label="Analysing your image with the model…">
        {(r) => <RankedList ranked={r} options={options} imageSrc={imageSrc} grid={model.grid} highlight={highlight} />}
      </Loaded>
    </section>
  );
}

function RankedList({
  ranked,
  options,
  imageSrc,
  grid,
  highlight,
}: {
  ranked: UploadHeadModes;
  options: OverlayOptions;
  imageSrc: string;
  grid: number;
  highlight: SignedMode | null;
}) {
  // Inactive modes (σ = 0) contribute nothing to any image: they are left out, not ranked last.
  const active = ranked.modes.filter((m) => m.active);
  // A marked mode below the first few opens the whole list, so that it is there to see.
  const [showAll, setShowAll] = useState(() => highlightedIndex(active, highlight) >= SHOWN_MODES);
  const nInactive = ranked.modes.length - active.length;
  const shown = showAll ? active : active.slice(0, SHOWN_MODES);
  const ctx = {
    uploadId: ranked.upload_id,
    model: ranked.model,
    revision: ranked.revision,
    layer: ranked.layer,
    head: ranked.head,
    basis: ranked.basis,
    options,
    datasetImages: DATASET_IMAGES,
  };
  return (
    <>
      <p className="muted small">Ranking: {ranked.contribution_rule}.</p>
      {ranked.basis === "exact" && ranked.key_salience.length > 0 ? (
        <KeySaliencePanel imageSrc={imageSrc} grid={grid} keySalience={ranked.key_salience} />
      ) : null}
      {ranked.modes.length === 0 ? (
        <Empty>This head has no modes.</Empty>
      ) : active.length === 0 ? (
        <Empty>
          This head is inactive: every σ is 0 (its W_q or W_k is zero), so no mode contributes to its attention.
        </Empty>
      ) : (
        <ol className="ranked-list">
          {shown.map((m) => (
            <RankedModeCard key={m.mode} ranked={m} ctx={ctx} highlighted={isHighlighted(m, highlight)} />
          ))}
        </ol>
      )}
      {active.length > 0 && nInactive > 0 ? (
        <p className="muted small">
          {count(nInactive, "inactive mode")} (σ = 0) not ranked: they never contribute to attention.
        </p>
      ) : null}
      {active.length > SHOWN_MODES ? (
        <button type="button" className="button" onClick={() => setShowAll((v) => !v)} aria-expanded={showAll}>
          {showAll ? `Show the top ${SHOWN_MODES} only` : `Show all ${count(active.length, "active mode")}`}
        </button>
      ) : null}
    </>
  );
}
