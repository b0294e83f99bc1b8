/**
 * Upload: send an image, then, for a chosen model, the modes it drives most in the whole model; for a
 * chosen layer and head, the modes ranked for it, each with its maps on the image beside the mode's
 * top dataset images; in the exact basis, the attention row of a chosen patch and the modes that
 * drive it; and every served model's top modes side by side. `/upload/{id}?model=…` is a shareable
 * link while the upload is cached.
 */
import { useCallback, useState } from "react";
import { useNavigate, useParams, useSearchParams } from "react-router";
import type { ModelSummary, Upload, UploadHeadModes } from "../api/client";
import { apiQuery, useLoadable } from "../api/queries";
import { uploadImageUrl } from "../api/uploadUrls";
import { useUploadFile } from "../api/useUploadFile";
import { AttentionExplorer } from "../components/AttentionExplorer";
import { CopyLinkButton } from "../components/CopyLinkButton";
import { DemoBadge } from "../components/DemoBadge";
import { HelpTip } from "../components/HelpTip";
import { HowToRead } from "../components/HowToRead";
import { KeyHints } from "../components/KeyHints";
import { OverlayControls } from "../components/OverlayControls";
import { PatchHeatmap } from "../components/PatchHeatmap";
import { RankedModeCard } from "../components/RankedModeCard";
import { Empty, ErrorNotice, Loaded } from "../components/Status";
import { UploadDropzone } from "../components/UploadDropzone";
import { UploadHeadPicker } from "../components/UploadHeadPicker";
import { AcrossModels, WholeModelModes } from "../components/UploadModelRanking";
import { duration, modeName } from "../lib/format";
import { useKeyNav } from "../lib/keyboard";
import { stepHead } from "../lib/neighbours";
import { DEFAULT_OVERLAY, type OverlayOptions } from "../lib/overlay";
import { uploadPath } from "../lib/paths";
import { useDocumentTitle } from "../lib/useDocumentTitle";
import { resolveUploadView, type UploadViewState } from "../lib/uploadView";

const SHOWN_MODES = 6;
const DATASET_IMAGES = 3;

export default function UploadPage() {
  useDocumentTitle("Upload an image");
  const { uploadId } = useParams();
  const navigate = useNavigate();
  const [search] = useSearchParams();
  const onDone = useCallback(
    (upload: Upload) => navigate(uploadPath(upload.id, { model: search.get("model") ?? undefined })),
    [navigate, search],
  );
  const [state, send] = useUploadFile(onDone);
  return (
    <>
      <h1>Analyse your own image</h1>
      <HowToRead page="upload" />
      <UploadDropzone state={state} onFile={(file) => void send(file)} />
      {uploadId ? <UploadAnalysis uploadId={uploadId} /> : null}
    </>
  );
}

function UploadAnalysis({ uploadId }: { uploadId: string }) {
  const upload = useLoadable({
    ...apiQuery("/api/uploads/{upload_id}", { path: { upload_id: uploadId } }),
    // An upload expires: ask again whenever its page opens (its time left, whether it is still there).
    staleTime: 0,
  });
  const models = useLoadable(apiQuery("/api/models"));
  if (upload.status === "error" && upload.httpStatus === 404) {
    return <ErrorNotice title="This upload is not available" message="It may have expired. Upload the image again." />;
  }
  return (
    <Loaded state={upload} label="Loading your upload…">
      {(u) => (
        <Loaded state={models} label="Loading models…">
          {(list) =>
            list.length === 0 ? (
              <Empty>No atlas is being served, so there is no model to analyse with.</Empty>
            ) : (
              <UploadView upload={u} models={list} />
            )
          }
        </Loaded>
      )}
    </Loaded>
  );
}

function UploadView({ upload, models }: { upload: Upload; models: ModelSummary[] }) {
  const [search] = useSearchParams();
  const navigate = useNavigate();
  const [options, setOptions] = useState<OverlayOptions>(DEFAULT_OVERLAY);
  const view = resolveUploadView(search, models)!;
  const { model, layer, head, basis, patch } = view;

  const go = (next: Partial<Omit<UploadViewState, "model"> & { model: string }>, replace = true) => {
    const merged = { model: model.slug, layer, head, basis, patch, ...next };
    navigate(uploadPath(upload.id, merged), { replace });
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
        <h2 id="analysis-heading">Your image in {model.model_id}</h2>
        <DemoBadge model={model} />
      </div>
      <p className="muted small">
        {upload.width}×{upload.height} px · kept for {duration(upload.expires_in_s)} more · this page&apos;s link works
        for anyone until then. <CopyLinkButton />
      </p>
      <UploadHeadPicker
        models={models}
        value={view}
        onChange={(v) => go({ ...v, patch: v.basis === "exact" ? patch : null })}
      />
      <KeyHints inner="head" />
      <OverlayControls value={options} onChange={setOptions} />
      <WholeModelModes uploadId={upload.id} model={model} basis={basis} options={options} />
      {basis === "exact" ? (
        <AttentionExplorer
          target={{ uploadId: upload.id, model: model.slug, layer, head, grid: model.grid, imageSrc }}
          patch={patch}
          onPick={(p) => go({ patch: p })}
        />
      ) : null}
      <RankedModes upload={upload} view={view} options={options} imageSrc={imageSrc} />
      <AcrossModels uploadId={upload.id} models={models} basis={basis} options={options} />
    </section>
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
  const { model, layer, head, basis } = view;
  const ranked = useLoadable(
    apiQuery("/api/uploads/{upload_id}/models/{model}/layers/{layer}/heads/{head}", {
      path: { upload_id: upload.id, model: model.slug, layer, head },
      query: { basis },
    }),
  );
  return (
    <section aria-labelledby="ranked-heading">
      <h2 id="ranked-heading">Modes of {modeName(layer, head)} ranked for your image</h2>
      <Loaded state={ranked} label="Analysing your image with the model…">
        {(r) => <RankedList ranked={r} options={options} imageSrc={imageSrc} grid={model.grid} />}
      </Loaded>
    </section>
  );
}

function RankedList({
  ranked,
  options,
  imageSrc,
  grid,
}: {
  ranked: UploadHeadModes;
  options: OverlayOptions;
  imageSrc: string;
  grid: number;
}) {
  const [showAll, setShowAll] = useState(false);
  // Inactive modes (σ = 0) contribute nothing to any image: they are left out, not ranked last.
  const active = ranked.modes.filter((m) => m.active);
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
        <figure className="key-salience">
          <PatchHeatmap
            src={imageSrc}
            alt="Key salience of this head on your image: the key-only logit term (magenta: higher)"
            grid={grid}
            values={ranked.key_salience}
            scale="range"
            size={200}
          />
          <figcaption>Key salience: the key-only term of the logit, which survives the softmax.</figcaption>
          <HelpTip term="keySalience" />
        </figure>
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
            <RankedModeCard key={m.mode} ranked={m} ctx={ctx} />
          ))}
        </ol>
      )}
      {active.length > 0 && nInactive > 0 ? (
        <p className="muted small">
          {nInactive} inactive {nInactive === 1 ? "mode" : "modes"} (σ = 0) not ranked: they never contribute to
          attention.
        </p>
      ) : null}
      {active.length > SHOWN_MODES ? (
        <button type="button" className="button" onClick={() => setShowAll((v) => !v)} aria-expanded={showAll}>
          {showAll ? `Show the top ${SHOWN_MODES} only` : `Show all ${active.length} active modes`}
        </button>
      ) : null}
    </>
  );
}
