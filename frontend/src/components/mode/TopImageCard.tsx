/**
 * One of a mode's top dataset images: the overlay (beside the clean photo where `withPhoto`), its rank,
 * score and label; a link to its large view.
 */
import type { Ref } from "react";
import { Link } from "react-router";
import { useAtlasImageError } from "../../api/atlasRevisions";
import type { TopImage } from "../../api/client";
import { fmt } from "../../lib/common/format";
import { LARGE_VIEW_OPENED } from "../../lib/mode/largeView";
import { type OverlayOptions, overlaySrc, shownMapsText } from "../../lib/mode/overlay";
import { GLOSSARY } from "../../lib/help/glossary";
import { HelpTip } from "../ui/HelpTip";
import { QuirkBadge } from "../ui/SignBadge";

export function overlayAlt(what: string, options: OverlayOptions): string {
  return `${shownMapsText(options)} of ${what}`;
}

/** How an image is named where it shows: its class label, else its file name. */
export function imageTitle(image: Pick<TopImage, "label" | "source">): string {
  return image.label ?? image.source;
}

export function TopImageCard({
  image,
  modeLabel,
  options,
  labelHref,
  largeViewHref,
  linkRef,
  withPhoto = false,
  tied = false,
}: {
  image: TopImage;
  modeLabel: string;
  options: OverlayOptions;
  /** Where the image's class label links to (the class page), when the atlas has class statistics. */
  labelHref?: ((label: string) => string) | undefined;
  /** The address of this image's large view (the page's own, with the image named in it). */
  largeViewHref: string;
  /** The link to the large view, which gets the focus back when the large view closes. */
  linkRef?: Ref<HTMLAnchorElement> | undefined;
  /** Show the photo as the model saw it beside the overlay (the planted model's pages: its stimuli are
   * coloured squares in the maps' own colours, which only the clean photo shows apart). */
  withPhoto?: boolean;
  /** One of the last places that tie with the best image left out at the atlas's precision. */
  tied?: boolean;
}) {
  const title = imageTitle(image);
  const onError = useAtlasImageError();
  return (
    <li className={withPhoto ? "image-card image-card-pair" : "image-card"}>
      <figure>
        <Link
          to={largeViewHref}
          state={LARGE_VIEW_OPENED}
          ref={linkRef}
          title="Open the large view: the photo as the model saw it beside its maps"
        >
          {withPhoto ? (
            <img
              src={image.thumbnail_url}
              onError={onError}
              alt={`Top image ${image.rank + 1} (${title}) as the model saw it`}
              loading="lazy"
              decoding="async"
              width={224}
              height={224}
            />
          ) : null}
          <img
            src={overlaySrc(image.overlay_url, options)}
            onError={onError}
            alt={overlayAlt(`${modeLabel} on top image ${image.rank + 1} (${title})`, options)}
            loading="lazy"
            decoding="async"
            width={224}
            height={224}
          />
        </Link>
        <figcaption>
          <span className="rank">#{image.rank + 1}</span> <span className="score">score {fmt(image.score)}</span>
          {tied ? (
            <span className="tie">
              <span className="badge badge-muted" title={GLOSSARY.tie.text}>
                tie
              </span>
              <HelpTip term="tie" />
            </span>
          ) : null}
          {image.fires ? null : (
            <span className="quirk">
              <QuirkBadge />
              <HelpTip term="quirk" />
            </span>
          )}
          <span className="label" title={image.source}>
            {image.label && labelHref ? <Link to={labelHref(image.label)}>{image.label}</Link> : title}
          </span>
        </figcaption>
      </figure>
    </li>
  );
}
