/** A signed mode found for a class (search, class page): its name, selectivity, class mean, the images that
 * mean rests on (marked when too few to rely on) and its best images. */
import type { ReactNode } from "react";
import { Link } from "react-router";
import { HelpTip } from "../ui/HelpTip";
import { useAtlasImageError } from "../../api/atlasRevisions";
import type { ClassModeMatch } from "../../api/client";
import { classModeHref, classModeTitle } from "../../lib/search/classModes";
import { count, fmt, integer } from "../../lib/common/format";
import { topImagePath } from "../../lib/mode/largeView";
import { classPath } from "../../lib/address/paths";
import { tooFewImages } from "../../lib/search/classReliability";

export function ClassModeCard({
  match,
  withModel = false,
  withClass = false,
  reliableImages,
  children,
}: {
  match: ClassModeMatch;
  /** Name the model (results across models). */
  withModel?: boolean;
  /** Name and link the class (results for several classes). */
  withClass?: boolean;
  /** Mark a class mean over fewer images than this (the server's `reliable_class_images`). */
  reliableImages?: number | undefined;
  /** More about the mode, under its best images (the class page: the class's own images under it). */
  children?: ReactNode;
}) {
  const onImageError = useAtlasImageError();
  const title = classModeTitle(match, withModel);
  return (
    <li className="class-mode">
      <div className="class-mode-head">
        <Link to={classModeHref(match)} className="class-mode-name">
          {title}
        </Link>
        {withClass ? (
          <>
            {" "}
            for <Link to={classPath(match.label)}>{match.label}</Link>
          </>
        ) : null}
      </div>
      <dl className="class-mode-facts">
        <div>
          <dt>
            selectivity
            <HelpTip term="selectivity" />
          </dt>
          <dd>{fmt(match.selectivity, 2)}</dd>
        </div>
        <div>
          <dt>class mean</dt>
          <dd>{fmt(match.class_mean)}</dd>
        </div>
        <div>
          <dt>images of the class</dt>
          <dd>
            {integer(match.n_images)}
            {reliableImages !== undefined && tooFewImages(match.n_images, reliableImages) ? (
              <>
                {" "}
                <span className="badge badge-warn" title={`fewer than ${count(reliableImages, "image")}`}>
                  too few to rely on
                </span>
              </>
            ) : null}
          </dd>
        </div>
      </dl>
      {match.mode.top_images.length > 0 && children ? (
        <p className="muted small class-mode-caption">The mode&apos;s best images (of any class):</p>
      ) : null}
      {match.mode.top_images.length > 0 ? (
        <ol className="class-mode-thumbs" aria-label={`Best images of ${title}`}>
          {match.mode.top_images.map((image, rank) => (
            <li key={image.image_id}>
              <Link
                to={topImagePath(
                  match.mode.model,
                  match.mode.layer,
                  match.mode.head,
                  match.mode.mode,
                  match.mode,
                  rank,
                )}
                title="Open the large view of this image"
              >
                <img
                  className="thumb"
                  src={image.thumbnail_url}
                  alt={`top image ${rank + 1}: open its large view`}
                  width={160}
                  height={160}
                  loading="lazy"
                  onError={onImageError}
                />
              </Link>
            </li>
          ))}
        </ol>
      ) : null}
      {children}
    </li>
  );
}
