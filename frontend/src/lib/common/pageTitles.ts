/**
 * What each page is called: its document title (with " · qkatlas", `documentTitle`) and the title its link
 * preview shows. The server writes the same into the page it sends (backend/services/page_meta.py,
 * `PAGE_TITLES`); both are tested against one table of cases (pageTitleCases.json).
 */
import type { Sign } from "../../api/client";
import { modeName } from "./format";

export const SITE_NAME = "qkatlas";

export const pageTitle = {
  home: () => "",
  model: (modelId: string) => modelId,
  modeIndex: (modelId: string) => `Mode index · ${modelId}`,
  head: (modelId: string, layer: number, head: number) => `${modeName(layer, head)} · ${modelId}`,
  mode: (modelId: string, layer: number, head: number, mode: number, sign: Sign) =>
    `${modeName(layer, head, mode)} ${sign} · ${modelId}`,
  classes: () => "Classes",
  class: (label: string) => `Class ${label}`,
  search: (query: string) => (query ? `Search: ${query}` : "Search"),
  upload: () => "Upload an image",
  notFound: () => "Page not found",
  lists: () => "Your list",
  list: (title: string) => title,
};

/** The document title of a page called `title` ("" = the site's home). */
export function documentTitle(title: string): string {
  return title ? `${title} · ${SITE_NAME}` : SITE_NAME;
}
