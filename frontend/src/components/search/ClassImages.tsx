/**
 * A class's own images under one signed mode (the class page): each image's maps and score, computed on
 * demand by the service (`GET /api/models/{model}/images/{image_id}/maps`), and its overlay once they are
 * there (so the overlay's request finds the analysis cached). A tile opens the large view, which can step
 * to the same image under the head's neighbouring modes.
 */
import type { ClassImage } from "../../api/client";
import { type SignedModeAt, useDatasetImageMaps } from "../../api/resources";
import { useAtlasImageError } from "../../api/atlasRevisions";
import { fmt } from "../../lib/common/format";
import { datasetImageOverlayUrl, signedModeName } from "../../lib/mode/imageMaps";
import { DEFAULT_OVERLAY, overlaySrc } from "../../lib/mode/overlay";
import { DatasetImageLargeView } from "../mode/DatasetImageLargeView";
import { overlayAlt } from "../mode/TopImageCard";
import { QuirkBadge } from "../ui/SignBadge";

/** An atlas build's images of a class, as the class API lists them. */
export interface ClassImages {
  model: string;
  revision: string;
  /** The class. */
  label: string;
  images: ClassImage[];
}

export function ClassImagesUnderMode({
  of,
  at,
  onOpen,
}: {
  of: ClassImages;
  at: SignedModeAt;
  /** Open the large view of the image at this position. */
  onOpen: (position: number) => void;
}) {
  const name = signedModeName(at);
  return (
    <>
      <p className="muted small class-mode-caption">The class&apos;s own images under it:</p>
      <ol className="class-images" aria-label={`Images of the class under ${name}`}>
        {of.images.map((image, position) => (
          <ClassImageTile key={image.image_id} of={of} image={image} at={at} onOpen={() => onOpen(position)} />
        ))}
      </ol>
    </>
  );
}

function ClassImageTile({
  of,
  image,
  at,
  onOpen,
}: {
  of: ClassImages;
  image: ClassImage;
  at: SignedModeAt;
  onOpen: () => void;
}) {
  const maps = useDatasetImageMaps(of.model, of.revision, image.image_id, at);
  const onImageError = useAtlasImageError();
  const what = `${signedModeName(at)} on ${image.source}`;
  return (
    <li className="class-image">
      <button type="button" className="class-image-button" onClick={onOpen} title={`Open the large view of ${what}`}>
        {maps.status === "ok" ? (
          <img
            className="thumb"
            src={overlaySrc(datasetImageOverlayUrl(of.model, of.revision, image.image_id, at), DEFAULT_OVERLAY)}
            alt={overlayAlt(what, DEFAULT_OVERLAY)}
            width={160}
            height={160}
            onError={onImageError}
          />
        ) : (
          <span className="thumb class-image-pending" role="img" aria-label={`${what}: maps not loaded`}>
            {maps.status === "error" ? "—" : "…"}
          </span>
        )}
        <span className="class-image-score">
          {maps.status === "ok" ? (
            <>
              score {fmt(maps.data.score)}
              {maps.data.from_original_file ? null : (
                <span className="muted" title={maps.data.note ?? undefined}>
                  {" "}
                  (crop)
                </span>
              )}
            </>
          ) : maps.status === "error" ? (
            <span title={maps.message}>no maps</span>
          ) : (
            "computing…"
          )}
        </span>
      </button>
      {maps.status === "ok" && !maps.data.fires ? <QuirkBadge /> : null}
    </li>
  );
}

/** The large view of a class's image under a mode: `←`/`→` other images of the class, `[`/`]` other modes. */
export function ClassImageLargeView({
  of,
  ...rest
}: { of: ClassImages } & Omit<Parameters<typeof DatasetImageLargeView>[0], "of" | "what" | "options">) {
  return (
    <DatasetImageLargeView
      of={{ ...of, images: of.images.map((image) => ({ ...image, label: of.label })) }}
      what="image of the class"
      options={DEFAULT_OVERLAY}
      {...rest}
    />
  );
}
