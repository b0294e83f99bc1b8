/** What the header's search box offers for a query's results, and where each option leads. */
import type { NameMatch, SearchResults } from "../../api/client";
import { count } from "../common/format";
import { classModeHref, classModeTitle } from "./classModes";
import {
  classPath,
  DEFAULT_MODE_QUERY,
  headPath,
  modeIndexPath,
  modelPath,
  modePath,
  searchPath,
} from "../address/paths";

export type SearchGroup = "Models, heads and modes" | "Classes" | "Modes for the class" | "More";

export interface SearchOption {
  /** Unique within the list (an element id is made from it). */
  key: string;
  group: SearchGroup;
  label: string;
  detail?: string | undefined;
  href: string;
  thumbnail?: string | undefined;
}

/** Options per group in the box; the results page lists everything. */
const SHOWN = { names: 6, classes: 4, classModes: 5 };

/** A name's page: a mode, a head, a layer (the mode index filtered to it) or a model. */
export function nameHref(match: NameMatch): string {
  const { model, layer, head, mode } = match;
  if (layer !== null && head !== null && mode !== null) {
    return modePath(model, layer, head, mode, { ...DEFAULT_MODE_QUERY, sign: match.sign ?? "pos" });
  }
  if (layer !== null && head !== null) return headPath(model, layer, head);
  if (layer !== null) return modeIndexPath(model, `?layer=${layer}`);
  return modelPath(model);
}

const KIND_LABEL: Record<NameMatch["kind"], string> = {
  model: "model",
  layer: "layer, in the mode index",
  head: "head",
  mode: "mode",
};

export function searchOptions(results: SearchResults | undefined, query: string): SearchOption[] {
  const options: SearchOption[] = [];
  if (results) {
    results.names.slice(0, SHOWN.names).forEach((match, i) =>
      options.push({
        key: `name-${i}`,
        group: "Models, heads and modes",
        label: match.title,
        detail: [KIND_LABEL[match.kind], match.dataset].join(" · "),
        href: nameHref(match),
      }),
    );
    results.classes.slice(0, SHOWN.classes).forEach((match, i) =>
      options.push({
        key: `class-${i}`,
        group: "Classes",
        label: match.label,
        detail: `class in ${count(match.n_models, "model")}`,
        href: classPath(match.label),
      }),
    );
    results.class_modes.slice(0, SHOWN.classModes).forEach((match, i) =>
      options.push({
        key: `class-mode-${i}`,
        group: "Modes for the class",
        label: classModeTitle(match, true),
        detail: `${match.label}, selectivity ${match.selectivity.toFixed(2)}`,
        href: classModeHref(match),
        thumbnail: match.mode.top_images[0]?.thumbnail_url,
      }),
    );
  }
  if (query) {
    options.push({ key: "all", group: "More", label: `All results for “${query}”`, href: searchPath(query) });
  }
  return options;
}
