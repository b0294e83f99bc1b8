/**
 * The planted model's hand-set modes (`planted_modes` of the model list): the model page lists them,
 * and a planted mode's page and its head's page say what it is and what it should look like, so that
 * a reader can check the atlas by eye.
 */
import { Link } from "react-router";
import type { ModelSummary, PlantedMode } from "../../api/client";
import { fmt, modeName } from "../../lib/common/format";
import { modePath } from "../../lib/address/paths";

function plantedPath(slug: string, p: PlantedMode): string {
  return modePath(slug, p.layer, p.head, p.mode, { sign: p.sign, basis: "faithful" });
}

/** The planted modes at a head (`mode` null) or at one mode. */
export function plantedModesAt(
  model: Pick<ModelSummary, "planted_modes">,
  layer: number,
  head: number,
  mode: number | null,
): PlantedMode[] {
  return model.planted_modes.filter((p) => p.layer === layer && p.head === head && (mode === null || p.mode === mode));
}

/** The model page's list: a link to each planted mode, what it does and what it should look like. */
export function PlantedModeList({ model }: { model: Pick<ModelSummary, "slug" | "planted_modes"> }) {
  if (model.planted_modes.length === 0) return null;
  return (
    <section aria-labelledby="planted-heading">
      <h2 id="planted-heading">Planted modes</h2>
      <p className="muted">
        This model&apos;s weights are set by hand so that these modes respond to known colours: their pages should show
        what is expected here.
      </p>
      <ul className="planted-modes">
        {model.planted_modes.map((p) => (
          <li key={`${p.layer}-${p.head}-${p.mode}`}>
            <Link to={plantedPath(model.slug, p)}>
              {modeName(p.layer, p.head, p.mode)} {p.sign}
            </Link>
            : {p.description} ({p.kind}, σ = {fmt(p.sigma, 1)}).{" "}
            <span className="muted">Expected: {p.expected_look}.</span>
          </li>
        ))}
      </ul>
    </section>
  );
}

/** The note on a planted mode's page (or on its head's page, with a link to it). */
export function PlantedModeNote({
  model,
  planted,
  sign,
  link = false,
}: {
  model: Pick<ModelSummary, "slug">;
  planted: PlantedMode;
  /** The sign the page shows; the planted maps are those of `planted.sign`. */
  sign?: string | undefined;
  link?: boolean;
}) {
  const name = `${modeName(planted.layer, planted.head, planted.mode)} ${planted.sign}`;
  return (
    <div className="status status-planted" role="note">
      <strong>
        Planted mode
        {link ? (
          <>
            {" "}
            <Link to={plantedPath(model.slug, planted)}>{name}</Link>
          </>
        ) : null}
        :
      </strong>{" "}
      {planted.description}. Expected: {planted.expected_look}.
      {sign !== undefined && sign !== planted.sign ? (
        <>
          {" "}
          This page shows the other sign; the expected look is that of{" "}
          <Link to={plantedPath(model.slug, planted)}>{name}</Link>.
        </>
      ) : null}
    </div>
  );
}
