/**
 * "Try your image" on a mode page: drop, paste or pick one of your recent uploads, and see its maps
 * for this signed mode, its score, whether the mode fires on it, and where the score falls among the
 * dataset's images (the histogram marks it; docs/method.md#standing-in-the-distribution). The upload
 * is part of the page's address (`upload=<id>`), so a shared link shows the same.
 */
import { useCallback, useEffect, useState } from "react";
import { Link } from "react-router";
import type { Loadable } from "../../api/queries";
import type { ModelSummary, Upload, UploadModeStanding } from "../../api/client";
import { useUpload } from "../../api/resources";
import { isUploadId, uploadImageUrl, uploadOverlayUrl } from "../../api/uploadUrls";
import { useUploadFile } from "../../api/useUploadFile";
import { fmt } from "../../lib/common/format";
import { uploadPath } from "../../lib/address/paths";
import type { ModeView } from "../../lib/mode/modeView";
import { forgetUpload, type RecentUpload, recentUploads, rememberUpload } from "../../lib/upload/recentUploads";
import { belowCount, datasetImages, standingLead, topKText } from "../../lib/upload/standingWords";
import { UploadDropzone } from "../upload/UploadDropzone";
import { Facts } from "../ui/Facts";
import { HelpTip } from "../ui/HelpTip";
import { QuirkBadge } from "../ui/SignBadge";
import { ErrorNotice, Loading } from "../ui/Status";
import { overlayAlt } from "./TopImageCard";

export interface TryYourImageProps {
  summary: ModelSummary;
  pos: { layer: number; head: number; mode: number };
  view: ModeView;
  /** "L0 H0 M0 pos". */
  modeLabel: string;
  /** The attached upload's standing (asked by the page, which also marks it on the histogram). */
  standing: Loadable<UploadModeStanding> | null;
  /** Attaches an upload to the page's address, or removes it (`null`). */
  onAttach: (uploadId: string | null) => void;
}

export function TryYourImage({ summary, pos, view, modeLabel, standing, onAttach }: TryYourImageProps) {
  const attached = view.upload;
  return (
    <section aria-labelledby="your-image-heading" className="try-image" id="your-image">
      <div className="heading-row">
        <h2 id="your-image-heading">{attached === null ? "Try your image" : "Your image"}</h2>
        <HelpTip term="score" />
      </div>
      {attached === null ? null : (
        <Attached
          uploadId={attached}
          summary={summary}
          pos={pos}
          view={view}
          modeLabel={modeLabel}
          standing={standing}
          onRemove={() => onAttach(null)}
        />
      )}
      {attached === null ? (
        <Picker summary={summary} current={null} onAttach={onAttach} />
      ) : (
        <details className="try-image-another">
          <summary>Try another image</summary>
          <Picker summary={summary} current={attached} onAttach={onAttach} />
        </details>
      )}
    </section>
  );
}

/** A new upload (drop, paste, pick a file) or one of the recent ones. */
function Picker({
  summary,
  current,
  onAttach,
}: {
  summary: ModelSummary;
  current: string | null;
  onAttach: (uploadId: string) => void;
}) {
  const onDone = useCallback(
    (upload: Upload) => {
      rememberUpload(upload);
      onAttach(upload.id);
    },
    [onAttach],
  );
  const [state, send] = useUploadFile(onDone);
  const [recent, setRecent] = useState<RecentUpload[]>(() => recentUploads());
  const shown = recent.filter((r) => r.id !== current);
  const forget = (id: string) => {
    forgetUpload(id);
    setRecent((entries) => entries.filter((e) => e.id !== id));
  };
  return (
    <div className="try-image-picker">
      <p className="muted small">
        See this mode&apos;s maps on your own photo, its score, and where it falls among the {summary.dataset.name}{" "}
        images.
      </p>
      <UploadDropzone state={state} onFile={(file) => void send(file)} />
      {shown.length > 0 ? (
        <div className="recent-uploads">
          <h3 className="small">Your recent uploads</h3>
          <ul>
            {shown.map((r) => (
              <li key={r.id}>
                <button type="button" className="recent-upload" onClick={() => onAttach(r.id)}>
                  <img
                    src={uploadImageUrl(r.id, summary.slug, summary.revision)}
                    alt={`Your upload ${r.id.slice(0, 8)}`}
                    width={64}
                    height={64}
                    loading="lazy"
                    // The server has forgotten it (uploads expire): it is not offered again.
                    onError={() => forget(r.id)}
                  />
                </button>
              </li>
            ))}
          </ul>
        </div>
      ) : null}
    </div>
  );
}

function Attached({
  uploadId,
  summary,
  pos,
  view,
  modeLabel,
  standing,
  onRemove,
}: {
  uploadId: string;
  summary: ModelSummary;
  pos: { layer: number; head: number; mode: number };
  view: ModeView;
  modeLabel: string;
  standing: Loadable<UploadModeStanding> | null;
  onRemove: () => void;
}) {
  const valid = isUploadId(uploadId);
  const record = useUpload(valid ? uploadId : undefined);
  const gone = record.status === "error" && record.httpStatus === 404;
  useEffect(() => {
    if (record.status === "ok") rememberUpload(record.data);
    else if (gone) forgetUpload(uploadId);
  }, [record, gone, uploadId]);
  const remove = (
    <button type="button" className="button" onClick={onRemove}>
      Remove it from this page
    </button>
  );
  if (!valid) {
    return (
      <div className="status status-error" role="alert">
        <strong>
          The address names <code>upload={uploadId}</code>, which is not an upload id
        </strong>{" "}
        (upload ids are 32 hexadecimal digits). {remove}
      </div>
    );
  }
  if (gone) {
    return (
      <div className="status status-error" role="alert">
        <strong>This upload is no longer on the server.</strong> Uploads and everything computed from them are forgotten
        24 hours after they were made; upload the image again to see it here. {remove}
      </div>
    );
  }
  if (standing === null || standing.status === "loading") {
    const retryAt = standing?.status === "loading" ? standing.retryAt : undefined;
    return <Loading label="Analysing your image with the model…" retryAt={retryAt} />;
  }
  if (standing.status === "error") {
    return (
      <>
        <ErrorNotice title="Your image could not be analysed" message={standing.message} />
        {remove}
      </>
    );
  }
  const s = standing.data;
  const ref = { uploadId, model: summary.slug, revision: summary.revision, ...pos, sign: view.sign, basis: view.basis };
  const explore = uploadPath(uploadId, {
    model: summary.slug,
    layer: pos.layer,
    head: pos.head,
    basis: view.basis,
    highlight: { mode: pos.mode, sign: view.sign },
  });
  return (
    <div className="your-image-result">
      <figure>
        <img
          src={uploadOverlayUrl(ref, view)}
          alt={overlayAlt(`${modeLabel} on your image`, view)}
          width={224}
          height={224}
        />
        <figcaption>your image, {view.basis} basis</figcaption>
      </figure>
      <div className="your-image-facts">
        <Facts
          inline
          items={[
            ["score", fmt(s.score), "score"],
            ["fires", s.fires ? "yes" : <QuirkBadge key="quirk" />, s.fires ? undefined : "quirk"],
          ]}
        />
        {s.standing ? (
          <>
            <p className="your-image-standing" data-testid="your-image-standing">
              <strong>{standingLead(s.standing)}</strong> of {datasetImages(s.standing, summary.dataset.name)}
            </p>
            <p className="muted small">
              {belowCount(s.standing)}; {topKText(s.standing)}. Marked &ldquo;your image&rdquo; on the histogram of the
              score over the dataset.
            </p>
          </>
        ) : (
          <p className="muted">Where it falls in the dataset: {s.standing_missing}.</p>
        )}
        <p className="your-image-actions">
          <Link className="button" to={explore}>
            Explore attention in your image
          </Link>{" "}
          {remove}
        </p>
      </div>
    </div>
  );
}
