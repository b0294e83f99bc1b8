/**
 * A mode's top images as a grid of cards; a card opens the image's large view, which is part of the
 * page's address (`?image=<rank>`, lib/mode/largeView) so that it can be shared. Closing the view gives
 * the focus to the card of the image it last showed.
 */
import { useRef } from "react";
import { useLocation, useNavigate, useSearchParams } from "react-router";
import type { MapScale, TopImage } from "../../api/client";
import { largeViewRank, largeViewSearch, openedFromGrid } from "../../lib/mode/largeView";
import type { OverlayOptions } from "../../lib/mode/overlay";
import { ExploreAttentionButton, type ExploreTarget } from "./ExploreAttentionButton";
import { LargeImageView } from "./LargeImageView";
import { TopImageCard } from "./TopImageCard";

export function TopImageGrid({
  images,
  modeLabel,
  options,
  labelHref,
  preprocessing,
  explore,
  scale,
  withPhoto = false,
  tiedFrom = null,
}: {
  images: TopImage[];
  modeLabel: string;
  options: OverlayOptions;
  labelHref?: ((label: string) => string) | undefined;
  /** How the model resized and cropped the photos (`ModelSummary.preprocessing.description`). */
  preprocessing: string;
  /** The head (and basis) whose attention the large view's "Explore attention in this image" opens. */
  explore: ExploreTarget;
  /** The mode's one colour scale, shown with the large view's overlay. */
  scale: MapScale;
  /** Each card shows the clean photo beside the overlay (see TopImageCard). */
  withPhoto?: boolean;
  /** The first of the last places that tie with the best image left out (`ModeDetail.cutoff_tie`). */
  tiedFrom?: number | null;
}) {
  const [search] = useSearchParams();
  const location = useLocation();
  const navigate = useNavigate();
  const cards = useRef(new Map<number, HTMLAnchorElement>());
  const rank = largeViewRank(search, images.length);
  const shown = rank === null ? undefined : images[rank];

  const href = (r: number | null) => `${location.pathname}${largeViewSearch(search, r)}`;
  const move = (r: number) => navigate(href(r), { replace: true, state: location.state });
  const close = () => {
    if (rank !== null) cards.current.get(rank)?.focus();
    // Opened from this grid: going back closes it and leaves no entry that would reopen it.
    if (openedFromGrid(location.state)) navigate(-1);
    else navigate(href(null), { replace: true });
  };

  return (
    <>
      <ol className={withPhoto ? "image-grid image-grid-pairs" : "image-grid"}>
        {images.map((image) => (
          <TopImageCard
            key={image.image_id}
            image={image}
            modeLabel={modeLabel}
            options={options}
            labelHref={labelHref}
            largeViewHref={href(image.rank)}
            withPhoto={withPhoto}
            tied={tiedFrom !== null && image.rank >= tiedFrom}
            linkRef={(element: HTMLAnchorElement | null) => {
              if (element) cards.current.set(image.rank, element);
              else cards.current.delete(image.rank);
            }}
          />
        ))}
      </ol>
      {rank !== null && shown ? (
        <LargeImageView
          images={images}
          rank={rank}
          modeLabel={modeLabel}
          options={options}
          labelHref={labelHref}
          preprocessing={preprocessing}
          scale={scale}
          onMove={move}
          onClose={close}
        >
          <ExploreAttentionButton image={shown} target={explore} />
        </LargeImageView>
      ) : null}
    </>
  );
}
