/**
 * The large view of one of a mode's top images: a modal dialog with the clean photo (the crop as the
 * model saw it) beside its overlay, the class label, source file, score and rank. `←`/`→` (or `k`/`j`)
 * move through the top-K, `Escape` closes; the dialog keeps these keys from the page behind it.
 */
import { type KeyboardEvent, type ReactNode, useEffect, useRef } from "react";
import { Link } from "react-router";
import { useAtlasImageError } from "../../api/atlasRevisions";
import type { TopImage } from "../../api/client";
import { fmt } from "../../lib/common/format";
import { keyNavAction } from "../../lib/keys/keyboard";
import { type OverlayOptions, overlaySrc, shownMapsText } from "../../lib/mode/overlay";
import { type Fact, Facts } from "../ui/Facts";
import { QuirkBadge } from "../ui/SignBadge";
import { imageTitle, overlayAlt } from "./TopImageCard";

/** Shown for a top image that ranks only through the product of two negative maxima. */
const QUIRK_FACT: Fact = ["fires", <QuirkBadge key="quirk" />, "quirk"];

export function LargeImageView({
  images,
  rank,
  modeLabel,
  options,
  labelHref,
  preprocessing,
  onMove,
  onClose,
  children,
}: {
  images: TopImage[];
  rank: number;
  modeLabel: string;
  options: OverlayOptions;
  labelHref?: ((label: string) => string) | undefined;
  /** How the model resized and cropped the photo, in words. */
  preprocessing: string;
  onMove: (rank: number) => void;
  /** Called once the dialog has closed (the page behind it takes focus again). */
  onClose: () => void;
  /** More actions on the image, under its facts. */
  children?: ReactNode;
}) {
  const dialog = useRef<HTMLDialogElement>(null);
  // The rank last moved to: the router shows a move in a transition, so a key pressed before it
  // renders must step from there, not from the rank of the last render.
  const latest = useRef(rank);
  useEffect(() => {
    latest.current = rank;
  }, [rank]);
  const onImageError = useAtlasImageError();
  useEffect(() => {
    const element = dialog.current;
    if (element && !element.open) element.showModal();
    return () => {
      if (element?.open) element.close();
    };
  }, []);
  const image = images[rank];
  if (!image) return null;
  const step = (delta: number) => {
    const target = latest.current + delta;
    if (target < 0 || target >= images.length) return;
    latest.current = target;
    onMove(target);
  };
  const close = () => {
    dialog.current?.close();
    onClose();
  };

  const onKeyDown = (event: KeyboardEvent<HTMLDialogElement>) => {
    if (event.key === "Escape") {
      event.preventDefault();
      event.stopPropagation();
      close();
      return;
    }
    // Every key the page navigates with stops here: the page behind a modal dialog stays where it is.
    const action = keyNavAction(event);
    if (action === null) return;
    event.preventDefault();
    event.stopPropagation();
    if (action === "prev") step(-1);
    if (action === "next") step(1);
  };

  const title = imageTitle(image);
  const headingId = "large-view-heading";
  return (
    <dialog
      ref={dialog}
      className="large-view"
      aria-labelledby={headingId}
      onKeyDown={onKeyDown}
      onCancel={(event) => {
        event.preventDefault();
        close();
      }}
    >
      <div className="large-view-header">
        <h2 id={headingId}>
          {modeLabel}: top image #{image.rank + 1} of {images.length}
        </h2>
        <button type="button" className="button" onClick={close}>
          Close
        </button>
      </div>
      <div className="large-view-images">
        <figure>
          <img
            src={image.thumbnail_url}
            onError={onImageError}
            alt={`Top image ${image.rank + 1} (${title}) as the model saw it`}
            width={448}
            height={448}
          />
          <figcaption>The photo as the model saw it: {preprocessing}</figcaption>
        </figure>
        <figure>
          <img
            src={overlaySrc(image.overlay_url, options)}
            onError={onImageError}
            alt={overlayAlt(`${modeLabel} on top image ${image.rank + 1} (${title})`, options)}
            width={448}
            height={448}
          />
          <figcaption>The {shownMapsText(options)} over it</figcaption>
        </figure>
      </div>
      <Facts
        className="large-view-facts"
        items={[
          ["rank", `#${image.rank + 1} of ${images.length}`],
          ["score", fmt(image.score), "score"],
          ...(image.fires ? [] : [QUIRK_FACT]),
          [
            "class",
            image.label === null ? (
              <span className="muted">no label</span>
            ) : labelHref ? (
              <Link to={labelHref(image.label)}>{image.label}</Link>
            ) : (
              image.label
            ),
          ],
          ["source file", <span className="file-name">{image.source}</span>],
        ]}
      />
      <div className="large-view-actions">
        <button type="button" className="button" disabled={rank === 0} onClick={() => step(-1)}>
          ← Previous
        </button>
        <button type="button" className="button" disabled={rank === images.length - 1} onClick={() => step(1)}>
          Next →
        </button>
        {children}
      </div>
      <p className="key-hints">
        Keys: <kbd>←</kbd> <kbd>→</kbd> or <kbd>k</kbd> <kbd>j</kbd> previous / next image; <kbd>Esc</kbd> closes.
      </p>
    </dialog>
  );
}
