/**
 * The large view of any dataset image under a signed mode (a class's own images, a mode's samples across
 * its distribution): the maps are computed on demand by the service
 * (`GET /api/models/{model}/images/{image_id}/maps`), `←`/`→` step through the listed images and `[`/`]`
 * show the same image under the head's neighbouring modes.
 */
import { type SignedModeAt, useDatasetImageMaps } from "../../api/resources";
import { datasetImageOverlayUrl, neighbourMode, signedModeName } from "../../lib/mode/imageMaps";
import type { OverlayOptions } from "../../lib/mode/overlay";
import { LargeImageView, type ViewedImage } from "./LargeImageView";

/** A dataset image as a list shows it, before its maps are known. */
export interface DatasetImageRef {
  image_id: string;
  source: string;
  thumbnail_url: string;
  label: string | null;
}

/** Images of one atlas build (`revision` pins their addresses). */
export interface DatasetImages {
  model: string;
  revision: string;
  images: DatasetImageRef[];
}

export function DatasetImageLargeView({
  of,
  at,
  position,
  what,
  nModes,
  options,
  preprocessing,
  labelHref,
  onMove,
  onClose,
}: {
  of: DatasetImages;
  at: SignedModeAt;
  position: number;
  /** What the images are, for the heading ("image of the class #2 of 6"). */
  what: string;
  /** Modes per head of the model. */
  nModes: number;
  options: OverlayOptions;
  preprocessing: string;
  labelHref: (label: string) => string;
  onMove: (position: number, at: SignedModeAt) => void;
  onClose: () => void;
}) {
  const shown = of.images[position];
  const maps = useDatasetImageMaps(of.model, of.revision, shown?.image_id ?? "", at);
  if (!shown) return null;
  const loaded = maps.status === "ok" ? maps.data : null;
  const images: ViewedImage[] = of.images.map((image, rank) => ({
    rank,
    image_id: image.image_id,
    thumbnail_url: image.thumbnail_url,
    overlay_url: datasetImageOverlayUrl(of.model, of.revision, image.image_id, at),
    label: image.label,
    source: image.source,
    score: rank === position ? (loaded?.score ?? null) : null,
    fires: rank === position ? (loaded?.fires ?? null) : null,
  }));
  const previous = neighbourMode(at, -1, nModes);
  const next = neighbourMode(at, 1, nModes);
  return (
    <LargeImageView
      images={images}
      rank={position}
      what={what}
      modeLabel={signedModeName(at)}
      options={options}
      labelHref={labelHref}
      preprocessing={preprocessing}
      scale={loaded?.maps.scale ?? null}
      onMove={(rank) => onMove(rank, at)}
      modeSteps={{
        previous: previous === null ? null : signedModeName(previous),
        next: next === null ? null : signedModeName(next),
        onStep: (delta) => {
          const target = neighbourMode(at, delta, nModes);
          if (target !== null) onMove(position, target);
        },
      }}
      onClose={onClose}
    >
      <p className="muted small large-view-note" role="status">
        {maps.status === "ok"
          ? maps.data.from_original_file
            ? "Maps computed now from the original file with the atlas's model."
            : `Maps ${maps.data.note ?? "computed from the atlas's stored crop"}.`
          : maps.status === "error"
            ? `No maps: ${maps.message}`
            : "Computing the maps…"}
      </p>
    </LargeImageView>
  );
}
