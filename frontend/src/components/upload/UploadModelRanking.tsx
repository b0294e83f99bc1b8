/**
 * An upload's modes ranked across every layer and head of a model (`GET …/uploads/{id}/models/{model}/modes`):
 * the chosen model's top modes, and the top few of every served model side by side. Each model is asked
 * on its own: its analysis takes its own time, and contributions of different models are not on one
 * scale, so they are never merged into one list.
 */
import { Link } from "react-router";
import { HelpTip } from "../ui/HelpTip";
import { useAtlasImageError } from "../../api/atlasRevisions";
import type { Basis, ModelSummary, UploadModelModes } from "../../api/client";
import { useUploadModelModes } from "../../api/resources";
import { uploadOverlayUrl } from "../../api/uploadUrls";
import { fmt, integer, modeName, plural } from "../../lib/common/format";
import type { OverlayOptions } from "../../lib/mode/overlay";
import { modePath } from "../../lib/address/paths";
import { DemoBadge } from "../layout/DemoBadge";
import { DegenerateBadge, NeverFiresBadge, SignBadge } from "../ui/SignBadge";
import { Empty, Loaded } from "../ui/Status";

export const WHOLE_MODEL_MODES = 10;
export const MODES_PER_MODEL = 5;

/** The ranking of one model; one limit for every view, so the chosen model's column shares the panel's query. */
function useModelRanking(uploadId: string, model: string, basis: Basis) {
  return useUploadModelModes(uploadId, model, basis, WHOLE_MODEL_MODES);
}

export function WholeModelModes({
  uploadId,
  model,
  basis,
  options,
}: {
  uploadId: string;
  model: ModelSummary;
  basis: Basis;
  options: OverlayOptions;
}) {
  const ranking = useModelRanking(uploadId, model.slug, basis);
  return (
    <section aria-labelledby="whole-model-heading">
      <h2 id="whole-model-heading">Modes this image drives most — whole model</h2>
      <Loaded state={ranking} label="Analysing your image with the model…">
        {(r) => (
          <>
            {r.n_modes_total > 0 ? (
              <p className="muted small">
                The top {integer(r.modes.length)} of the {integer(r.n_modes_total)} active{" "}
                {plural(r.n_modes_total, "mode")} of every layer and head of {model.model_id} ({r.basis} basis).
                Ranking: {r.contribution_rule}.
              </p>
            ) : null}
            <ModelModeList ranking={r} options={options} shown={WHOLE_MODEL_MODES} />
          </>
        )}
      </Loaded>
    </section>
  );
}

export function AcrossModels({
  uploadId,
  models,
  basis,
  options,
}: {
  uploadId: string;
  models: ModelSummary[];
  basis: Basis;
  options: OverlayOptions;
}) {
  return (
    <section aria-labelledby="across-models-heading">
      <h2 id="across-models-heading">Across every served model</h2>
      <p className="muted small">
        Each model&apos;s top {MODES_PER_MODEL} modes for your image, ranked within that model by their contribution
        <HelpTip term="contribution" />: contributions of different models are not on one scale, so compare the modes,
        not the numbers.
      </p>
      <ul className="across-models">
        {models.map((m) => (
          <ModelColumn key={m.slug} uploadId={uploadId} model={m} basis={basis} options={options} />
        ))}
      </ul>
    </section>
  );
}

function ModelColumn({
  uploadId,
  model,
  basis,
  options,
}: {
  uploadId: string;
  model: ModelSummary;
  basis: Basis;
  options: OverlayOptions;
}) {
  // An atlas built without the page's basis is ranked in one it has.
  const columnBasis = model.bases.includes(basis) ? basis : (model.bases[0] ?? basis);
  const ranking = useModelRanking(uploadId, model.slug, columnBasis);
  const headingId = `across-${model.slug}`;
  return (
    <li className="card across-model" aria-labelledby={headingId}>
      <h3 id={headingId}>
        {model.model_id} <span className="muted small">on {model.dataset.name}</span>
      </h3>
      <DemoBadge model={model} />
      <Loaded state={ranking} label={`Analysing your image with ${model.model_id}…`}>
        {(r) => <ModelModeList ranking={r} options={options} shown={MODES_PER_MODEL} />}
      </Loaded>
    </li>
  );
}

function ModelModeList({
  ranking,
  options,
  shown,
}: {
  ranking: UploadModelModes;
  options: OverlayOptions;
  shown: number;
}) {
  const onImageError = useAtlasImageError();
  if (ranking.modes.length === 0) {
    return <Empty>Every mode of this model is inactive (σ = 0): none contributes to attention.</Empty>;
  }
  const { upload_id: uploadId, model, revision, basis } = ranking;
  return (
    <ol className="model-modes">
      {ranking.modes.slice(0, shown).map((m) => {
        const { layer, head, mode, sign } = m;
        return (
          <li key={`${layer}-${head}-${mode}`}>
            <Link className="model-mode" to={modePath(model, layer, head, mode, { sign, basis, upload: uploadId })}>
              {/* Decorative: the link's text names the mode the overlay shows. */}
              <img
                src={uploadOverlayUrl({ uploadId, model, revision, layer, head, mode, sign, basis }, options)}
                onError={onImageError}
                alt=""
                width={56}
                height={56}
                loading="lazy"
              />
              <span className="model-mode-text">
                <span className="model-mode-name">
                  <span className="rank">#{integer(m.rank + 1)}</span> {modeName(layer, head, mode)}{" "}
                  <SignBadge sign={sign} />
                  {m.degenerate ? (
                    <>
                      {" "}
                      <DegenerateBadge />
                    </>
                  ) : null}
                  {m.never_fires ? (
                    <>
                      {" "}
                      <NeverFiresBadge />
                    </>
                  ) : null}
                </span>
                <span className="muted small">
                  σ {fmt(m.sigma)} · contribution {fmt(m.contribution)}
                </span>
              </span>
            </Link>
          </li>
        );
      })}
    </ol>
  );
}
