/**
 * A dataset image's card in a mode's lists (samples across the distribution, images with the largest
 * effect): its thumbnail as a button that opens the large view with its maps, what the list says of it,
 * and its class (a link to the class page where there is one) or source file.
 */
import type { ReactNode } from "react";
import { Link } from "react-router";
import { useAtlasImageError } from "../../api/atlasRevisions";

export interface DatasetImageCardImage {
  thumbnail_url: string;
  dataset_index: number;
  label?: string | null;
  source: string;
}

export function DatasetImageCard({
  image,
  describe,
  children,
  labelHref,
  onOpen,
}: {
  image: DatasetImageCardImage;
  /** What the image is in this list, for its alternative text ("#2 by attention moved"). */
  describe: string;
  /** The caption's facts (score, effect, badges), before the class. */
  children: ReactNode;
  labelHref?: ((label: string) => string) | undefined;
  onOpen: () => void;
}) {
  const onError = useAtlasImageError();
  const title = image.label ?? image.source;
  return (
    <li className="image-card sample-card">
      <figure>
        <button type="button" className="sample-open" onClick={onOpen} title="Open the large view with its maps">
          <img
            src={image.thumbnail_url}
            onError={onError}
            alt={`dataset image ${image.dataset_index} (${title})${describe}: open its maps`}
            loading="lazy"
            decoding="async"
            width={224}
            height={224}
          />
        </button>
        <figcaption>
          {children}
          <span className="label" title={image.source}>
            {image.label && labelHref ? <Link to={labelHref(image.label)}>{image.label}</Link> : title}
          </span>
        </figcaption>
      </figure>
    </li>
  );
}
