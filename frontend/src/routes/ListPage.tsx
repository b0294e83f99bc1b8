/**
 * A shared list (`/lists/<id>`): its modes side by side, each with its model, position, sign and basis, σ,
 * the note it was shared with and its best top images with their maps; a notice on each mode whose atlas
 * has been rebuilt since the list was made (it shows the atlas served now) or is no longer served.
 */
import { Link, useNavigate, useParams } from "react-router";
import type { ListedMode } from "../api/client";
import { apiQuery, useLoadable } from "../api/queries";
import { useMode, useModels } from "../api/resources";
import { NotFound } from "../components/layout/NotFound";
import { MapScaleLegend } from "../components/mode/MapScaleLegend";
import { TopImageCard } from "../components/mode/TopImageCard";
import { Facts } from "../components/ui/Facts";
import { Empty, Loaded } from "../components/ui/Status";
import { classPath, listsPath, modePath } from "../lib/address/paths";
import { count, fmt, modeName } from "../lib/common/format";
import { pageTitle } from "../lib/common/pageTitles";
import { useEmbedOptions } from "../lib/embed/embedOptions";
import { useDocumentTitle } from "../lib/common/useDocumentTitle";
import { saveDraft } from "../lib/lists/draftList";
import { topImagePath } from "../lib/mode/largeView";
import { parseOverlayOptions } from "../lib/mode/overlay";

/** Top images shown per mode: enough to see what it does, few enough to compare modes side by side. */
const TOP_IMAGES_SHOWN = 4;
const OVERLAY = parseOverlayOptions(new URLSearchParams());

export default function ListPage() {
  const { listId = "" } = useParams();
  const list = useLoadable(apiQuery("/api/lists/{list_id}", { path: { list_id: listId } }));
  const navigate = useNavigate();
  const embed = useEmbedOptions();
  useDocumentTitle(list.status === "ok" ? pageTitle.list(list.data.title) : "Shared list");
  if (list.status === "error" && (list.httpStatus === 404 || list.httpStatus === 422)) {
    return (
      <NotFound
        title="List not found"
        problem={
          <>
            No shared list has the id <code>{listId}</code>.
          </>
        }
        exists="A list's link is made when it is shared; check that it was copied whole."
        links={[{ label: "Your list", to: listsPath() }]}
      />
    );
  }
  return (
    <Loaded state={list} label="Loading the list…" pageTitle="Shared list">
      {(l) => (
        <>
          <h1>{l.title}</h1>
          <div className="toolbar">
            <span className="muted">
              {count(l.modes.length, "mode")} from {count(new Set(l.modes.map((m) => m.model_id)).size, "model")}
            </span>
            {embed.embedded ? null : (
              <button
                type="button"
                className="button"
                onClick={() => {
                  saveDraft({
                    title: l.title,
                    modes: l.modes.map((m) => ({ ...m, modelId: m.model_id })),
                  });
                  void navigate(listsPath());
                }}
              >
                Edit as a new list
              </button>
            )}
          </div>
          <ol className="list-columns" aria-label="Modes of the list">
            {l.modes.map((m) => (
              <ListedModeColumn key={`${m.model}/${m.layer}/${m.head}/${m.mode}/${m.sign}/${m.basis}`} listed={m} />
            ))}
          </ol>
        </>
      )}
    </Loaded>
  );
}

function ListedModeColumn({ listed }: { listed: ListedMode }) {
  const name = `${modeName(listed.layer, listed.head, listed.mode)} ${listed.sign}`;
  const title = (
    <h2 className="list-column-title">
      {listed.atlas === "not_served" ? (
        name
      ) : (
        <Link to={modePath(listed.model, listed.layer, listed.head, listed.mode, listed)}>{name}</Link>
      )}{" "}
      <span className="subtitle">{listed.model_id}</span>
    </h2>
  );
  return (
    <li className="list-column" aria-label={`${name} · ${listed.model_id}`}>
      {title}
      <p className="muted small">{listed.basis} basis</p>
      {listed.note ? <blockquote className="list-note">{listed.note}</blockquote> : null}
      {listed.atlas === "rebuilt" ? (
        <div className="status status-warn" role="note">
          <strong>Rebuilt since.</strong> This atlas was rebuilt after the list was made (revision {listed.revision},
          now {listed.current_revision}): what follows is the atlas served now, which may differ from what was shared.
        </div>
      ) : null}
      {listed.atlas === "not_served" || listed.current_revision === null ? (
        <div className="status status-empty" role="note">
          <strong>No longer served.</strong> This server no longer serves the atlas {listed.model} (revision{" "}
          {listed.revision}) the mode came from.
        </div>
      ) : (
        <ListedModeBody listed={listed} revision={listed.current_revision} name={name} />
      )}
    </li>
  );
}

function ListedModeBody({ listed, revision, name }: { listed: ListedMode; revision: string; name: string }) {
  const detail = useMode({ slug: listed.model, revision }, listed, listed);
  // The planted model's cards show the photo beside the overlay, as on its mode page (see TopImageCard).
  const models = useModels();
  const planted = models.status === "ok" && models.data.some((m) => m.slug === listed.model && m.planted);
  return (
    <Loaded state={detail} label="Loading the mode…">
      {(d) => {
        const shown = d.top_images.slice(0, TOP_IMAGES_SHOWN);
        return (
          <>
            <Facts inline className="mode-stats" items={[["σ", fmt(d.sigma), "sigma"]]} />
            {!d.active ? (
              <Empty>This mode is inactive (σ = 0).</Empty>
            ) : shown.length === 0 || d.map_scale === null ? (
              <Empty>No image of the dataset excites this mode.</Empty>
            ) : (
              <>
                <MapScaleLegend scale={d.map_scale} options={OVERLAY} />
                <ol
                  className={planted ? "image-grid list-images-pairs" : "image-grid list-images"}
                  aria-label={`Top images of ${name}`}
                >
                  {shown.map((image) => (
                    <TopImageCard
                      key={image.image_id}
                      image={image}
                      modeLabel={name}
                      options={OVERLAY}
                      labelHref={d.class_profile ? classPath : undefined}
                      largeViewHref={topImagePath(
                        listed.model,
                        listed.layer,
                        listed.head,
                        listed.mode,
                        listed,
                        image.rank,
                      )}
                      withPhoto={planted}
                    />
                  ))}
                </ol>
                {d.top_images.length > shown.length ? (
                  <p className="muted small">
                    Best {shown.length} of its {count(d.top_images.length, "top image")}; the mode page shows them all.
                  </p>
                ) : null}
              </>
            )}
          </>
        );
      }}
    </Loaded>
  );
}
