/** A signed mode found for a class (search, class page): its name, selectivity, class mean and best images. */
import type { ReactNode } from "react";
import { Link } from "react-router";
import { HelpTip } from "../ui/HelpTip";
import { useAtlasImageError } from "../../api/atlasRevisions";
import type { ClassModeMatch } from "../../api/client";
import { classModeHref, classModeTitle } from "../../lib/search/classModes";
import { fmt, integer } from "../../lib/common/format";
import { topImagePath } from "../../lib/mode/largeView";
import { classPath } from "../../lib/address/paths";

export function ClassModeCard({
  match,
  withModel = false,
  withClass = false,
  withClassSize = true,
  children,
}: {
  match: ClassModeMatch;
  /** Name the model (results across models). */
  withModel?: boolean;
  /** Name and link the class (results for several classes). */
  withClass?: boolean;
  /** Say how many images the class has (where no heading says it). */
  withClassSize?: boolean;
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
        {withClassSize ? (
          <div>
            <dt>images of the class</dt>
            <dd>{integer(match.n_images)}</dd>
          </div>
        ) : null}
      </dl>
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
