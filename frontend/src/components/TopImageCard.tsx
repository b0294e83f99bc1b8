/** One of a mode's top dataset images: the overlay, its rank, score and label. */
import { Link } from "react-router";
import { useAtlasImageError } from "../api/atlasRevisions";
import type { TopImage } from "../api/client";
import { fmt } from "../lib/format";
import { type OverlayOptions, overlaySrc, paletteNames } from "../lib/overlay";

export function overlayAlt(what: string, options: OverlayOptions): string {
  const names = paletteNames(options.palette);
  const maps =
    options.channel === "both"
      ? `query map (${names.query}) and key map (${names.key})`
      : options.channel === "query"
        ? `query map (${names.query})`
        : `key map (${names.key})`;
  return `${maps} of ${what}`;
}

export function TopImageCard({
  image,
  modeLabel,
  options,
  labelHref,
}: {
  image: TopImage;
  modeLabel: string;
  options: OverlayOptions;
  /** Where the image's class label links to (the class page), when the atlas has class statistics. */
  labelHref?: ((label: string) => string) | undefined;
}) {
  const title = image.label ?? image.source;
  const onError = useAtlasImageError();
  return (
    <li className="image-card">
      <figure>
        <a href={image.thumbnail_url} target="_blank" rel="noreferrer" title="Open the photo as the model saw it">
          <img
            src={overlaySrc(image.overlay_url, options)}
            onError={onError}
            alt={overlayAlt(`${modeLabel} on top image ${image.rank + 1} (${title})`, options)}
            loading="lazy"
            decoding="async"
            width={224}
            height={224}
          />
        </a>
        <figcaption>
          <span className="rank">#{image.rank + 1}</span> <span className="score">score {fmt(image.score)}</span>
          <span className="label" title={image.source}>
            {image.label && labelHref ? <Link to={labelHref(image.label)}>{image.label}</Link> : title}
          </span>
        </figcaption>
      </figure>
    </li>
  );
}
