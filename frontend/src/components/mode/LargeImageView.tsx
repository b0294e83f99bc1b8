/**
 * The large view of one of a mode's images (its top images, or a class's own images under it): a modal
 * dialog with the clean photo (the crop as the model saw it) beside its overlay, the class label, source
 * file, score and position. `←`/`→` (or `k`/`j`) move through the images; with `modeSteps`, `[`/`]` show
 * the same image under the previous / next mode of the head; `Escape` closes. The dialog keeps these keys
 * from the page behind it.
 */
import { type KeyboardEvent, type ReactNode, useEffect, useRef } from "react";
import { Link } from "react-router";
import { useAtlasImageError } from "../../api/atlasRevisions";
import type { MapScale, TopImage } from "../../api/client";
import { fmt } from "../../lib/common/format";
import { keyNavAction } from "../../lib/keys/keyboard";
import { type OverlayOptions, overlaySrc, shownMapsText } from "../../lib/mode/overlay";
import { type Fact, Facts } from "../ui/Facts";
import { QuirkBadge } from "../ui/SignBadge";
import { imageTitle, overlayAlt } from "./TopImageCard";
import { MapScaleLegend } from "./MapScaleLegend";

/** Shown for a top image that ranks only through the product of two negative maxima. */
const QUIRK_FACT: Fact = ["fires", <QuirkBadge key="quirk" />, "quirk"];

/** What the view shows of an image: a top image, or any image with its score under the mode once known. */
export type ViewedImage = Omit<TopImage, "score" | "fires" | "dataset_index" | "maps_url"> & {
  /** Null while it is being computed. */
  score: number | null;
  fires: boolean | null;
};

/** Stepping to the same image under the neighbouring modes of the head (`[` and `]`). */
export interface ModeSteps {
  /** The names of the previous and next modes; null at either end of the head. */
  previous: string | null;
  next: string | null;
  onStep: (delta: -1 | 1) => void;
}

export function LargeImageView({
  images,
  rank,
  what = "top image",
  modeLabel,
  options,
  labelHref,
  preprocessing,
  scale,
  onMove,
  modeSteps,
  onClose,
  children,
}: {
  images: ViewedImage[];
  rank: number;
  /** What the images are, for the heading ("top image #2 of 8"). */
  what?: string;
  modeLabel: string;
  options: OverlayOptions;
  labelHref?: ((label: string) => string) | undefined;
  /** How the model resized and cropped the photo, in words. */
  preprocessing: string;
  /** The mode's one colour scale (its colour bar is shown under the images); null until it is known. */
  scale: MapScale | null;
  onMove: (rank: number) => void;
  modeSteps?: ModeSteps | undefined;
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
    if (modeSteps && (event.key === "[" || event.key === "]") && !event.altKey && !event.ctrlKey && !event.metaKey) {
      event.preventDefault();
      event.stopPropagation();
      const delta = event.key === "[" ? -1 : 1;
      if ((delta === -1 ? modeSteps.previous : modeSteps.next) !== null) modeSteps.onStep(delta);
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
          {modeLabel}: {what} #{image.rank + 1} of {images.length}
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
            alt={`${capitalized(what)} ${image.rank + 1} (${title}) as the model saw it`}
            width={448}
            height={448}
          />
          <figcaption>The photo as the model saw it: {preprocessing}</figcaption>
        </figure>
        <figure>
          <img
            src={overlaySrc(image.overlay_url, options)}
            onError={onImageError}
            alt={overlayAlt(`${modeLabel} on ${what} ${image.rank + 1} (${title})`, options)}
            width={448}
            height={448}
          />
          <figcaption>
            The {shownMapsText(options)} over it, with the two patches that make the score outlined
          </figcaption>
        </figure>
      </div>
      {scale === null ? null : <MapScaleLegend scale={scale} options={options} />}
      <Facts
        className="large-view-facts"
        items={[
          [what === "top image" ? "rank" : "image", `#${image.rank + 1} of ${images.length}`],
          ["score", image.score === null ? "computing…" : fmt(image.score), "score"],
          ...(image.fires === false ? [QUIRK_FACT] : []),
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
        {modeSteps ? (
          <>
            <button
              type="button"
              className="button"
              disabled={modeSteps.previous === null}
              onClick={() => modeSteps.onStep(-1)}
            >
              [ {modeSteps.previous ?? "previous mode"}
            </button>
            <button
              type="button"
              className="button"
              disabled={modeSteps.next === null}
              onClick={() => modeSteps.onStep(1)}
            >
              {modeSteps.next ?? "next mode"} ]
            </button>
          </>
        ) : null}
        {children}
      </div>
      <p className="key-hints">
        Keys: <kbd>←</kbd> <kbd>→</kbd> or <kbd>k</kbd> <kbd>j</kbd> previous / next image;{" "}
        {modeSteps ? (
          <>
            <kbd>[</kbd> <kbd>]</kbd> the same image under the previous / next mode;{" "}
          </>
        ) : null}
        <kbd>Esc</kbd> closes.
      </p>
    </dialog>
  );
}

function capitalized(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}
