/**
 * One mode ranked for the user's image: its maps on that image beside the mode's top dataset images.
 * The mode the view was opened from ("Explore attention" on its page) is marked, and scrolled into
 * view unless the address names another part of the page (`#attention`: the explorer comes first).
 */
import { useEffect, useRef } from "react";
import { Link, useLocation } from "react-router";
import { useAtlasImageError } from "../../api/atlasRevisions";
import type { Basis, RankedMode, Sign } from "../../api/client";
import { useMode } from "../../api/resources";
import { uploadOverlayUrl } from "../../api/uploadUrls";
import { fmt, modeName } from "../../lib/common/format";
import { type OverlayOptions, overlaySrc } from "../../lib/mode/overlay";
import { topImagePath } from "../../lib/mode/largeView";
import { modePath } from "../../lib/address/paths";
import { DegenerateBadge, NeverFiresBadge } from "../ui/SignBadge";
import { overlayAlt } from "../mode/TopImageCard";

export interface RankedModeContext {
  uploadId: string;
  model: string;
  revision: string;
  layer: number;
  head: number;
  basis: Basis;
  options: OverlayOptions;
  datasetImages: number;
}

export function RankedModeCard({
  ranked,
  ctx,
  highlighted = false,
}: {
  ranked: RankedMode;
  ctx: RankedModeContext;
  /** The mode the view was opened from. */
  highlighted?: boolean;
}) {
  const name = modeName(ctx.layer, ctx.head, ranked.mode);
  const ref = { ...ctx, mode: ranked.mode, sign: ranked.sign };
  const onImageError = useAtlasImageError();
  // The mode's page with this upload attached (its score and standing in the dataset).
  const withYourImage = modePath(ctx.model, ctx.layer, ctx.head, ranked.mode, {
    sign: ranked.sign,
    basis: ctx.basis,
    upload: ctx.uploadId,
  });
  const card = useRef<HTMLLIElement>(null);
  const targetsAnotherPart = useLocation().hash !== "";
  useEffect(() => {
    if (highlighted && !targetsAnotherPart) card.current?.scrollIntoView({ block: "nearest" });
  }, [highlighted, targetsAnotherPart]);
  return (
    <li
      ref={card}
      className={highlighted ? "card ranked-mode ranked-mode-highlighted" : "card ranked-mode"}
      aria-current={highlighted ? "true" : undefined}
    >
      {highlighted ? <p className="highlight-note">The mode you came from</p> : null}
      <h3>
        <span className="rank">#{ranked.rank + 1}</span>{" "}
        <Link to={withYourImage}>
          {name} {ranked.sign}
        </Link>{" "}
        {ranked.degenerate ? <DegenerateBadge /> : null} {ranked.never_fires ? <NeverFiresBadge /> : null}
      </h3>
      <p className="muted small">
        contribution {fmt(ranked.contribution)} · σ {fmt(ranked.sigma)} · cos {fmt(ranked.cos)} · score pos{" "}
        {fmt(ranked.pos_score)} / neg {fmt(ranked.neg_score)}
      </p>
      <div className="ranked-mode-images">
        <figure className="your-image">
          <Link to={withYourImage} title="Open the mode's page with your image">
            <img
              src={uploadOverlayUrl(ref, ctx.options)}
              onError={onImageError}
              alt={overlayAlt(`${name} ${ranked.sign} on your image`, ctx.options)}
              width={224}
              height={224}
              loading="lazy"
            />
          </Link>
          <figcaption>your image</figcaption>
        </figure>
        <DatasetTopImages {...ref} limit={ctx.datasetImages} />
      </div>
    </li>
  );
}

function DatasetTopImages({
  uploadId,
  model,
  revision,
  layer,
  head,
  mode,
  sign,
  basis,
  options,
  limit,
}: {
  /** Kept attached on the mode page the large view opens. */
  uploadId: string;
  model: string;
  /** The build the ranking was made with, so its top images match the maps on the user's image. */
  revision: string;
  layer: number;
  head: number;
  mode: number;
  sign: Sign;
  basis: Basis;
  options: OverlayOptions;
  limit: number;
}) {
  const onImageError = useAtlasImageError();
  const detail = useMode({ slug: model, revision }, { layer, head, mode }, { sign, basis });
  if (detail.status === "loading")
    return (
      <p className="muted small loading-images" role="status">
        Loading dataset images…
      </p>
    );
  if (detail.status === "error") return <p className="muted small">Dataset images unavailable: {detail.message}</p>;
  const images = detail.data.top_images.slice(0, limit);
  if (images.length === 0) return <p className="muted small">No dataset image excites this mode.</p>;
  return (
    <>
      {images.map((image) => (
        <figure key={image.image_id}>
          <Link
            to={topImagePath(model, layer, head, mode, { sign, basis, upload: uploadId }, image.rank)}
            title="Open the large view of this image on the mode's page"
          >
            <img
              src={overlaySrc(image.overlay_url, options)}
              alt={overlayAlt(
                `${modeName(layer, head, mode)} ${sign} on dataset image ${image.rank + 1} (${image.label ?? image.source})`,
                options,
              )}
              width={224}
              height={224}
              loading="lazy"
              onError={onImageError}
            />
          </Link>
          <figcaption>
            dataset #{image.rank + 1}
            {image.label ? `: ${image.label}` : ""}
          </figcaption>
        </figure>
      ))}
    </>
  );
}
