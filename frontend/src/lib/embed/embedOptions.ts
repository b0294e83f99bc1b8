/**
 * Embeds: any page address with `embed=1` renders just the page's content, for an iframe on another site
 * (the layout drops the header, search, footer, help and keys; see components/layout/EmbedFrame). `parts=`
 * picks which of the page's parts show; every link that leaves the view opens the full app in a new tab.
 *
 * - `embed=1` (or `true`): embed the page; any other value, or none, shows the full app.
 * - `parts=top,distribution`: show only these parts (comma-separated, in any order); absent: all of the
 *   page's parts; empty (`parts=`): none, just the content every embed has (facts and notes) and the link
 *   "open in qkatlas". Names a page does not have are ignored there; unknown names are listed in a note.
 */
import { createContext, useContext } from "react";

export const EMBED_PARAM = "embed";
export const PARTS_PARAM = "parts";

/** Every part an embed can show or leave out, with what it is (the Share menu's toggles say this). */
export const EMBED_PART_LABELS = {
  badge: "title badge (links to the page)",
  top: "top images",
  distribution: "score distribution",
  classes: "class profile",
  samples: "images across the distribution",
  try: '"Try your image" box',
  spectrum: "σ and cosine chart",
  modes: "table of modes",
} as const;

export type EmbedPart = keyof typeof EMBED_PART_LABELS;

export const EMBED_PARTS = Object.keys(EMBED_PART_LABELS) as EmbedPart[];

/** The parts of each embeddable page, in the order they appear. */
export const MODE_EMBED_PARTS: readonly EmbedPart[] = ["badge", "try", "top", "distribution", "classes", "samples"];
export const HEAD_EMBED_PARTS: readonly EmbedPart[] = ["badge", "spectrum", "modes"];

export interface EmbedOptions {
  /** The address asks for the embed (`embed=1`). */
  embedded: boolean;
  /** The parts `parts=` names; null when it is absent (every part of the page). */
  parts: ReadonlySet<EmbedPart> | null;
  /** Names in `parts=` that are no part of any page, as written. */
  unknownParts: readonly string[];
}

export const FULL_APP: EmbedOptions = { embedded: false, parts: null, unknownParts: [] };

function isPart(name: string): name is EmbedPart {
  return Object.hasOwn(EMBED_PART_LABELS, name);
}

export function parseEmbedOptions(search: URLSearchParams): EmbedOptions {
  const embed = search.get(EMBED_PARAM);
  if (embed !== "1" && embed !== "true") return FULL_APP;
  const written = search.get(PARTS_PARAM);
  if (written === null) return { embedded: true, parts: null, unknownParts: [] };
  const names = written
    .split(",")
    .map((name) => name.trim())
    .filter((name) => name !== "");
  return {
    embedded: true,
    parts: new Set(names.filter(isPart)),
    unknownParts: [...new Set(names.filter((name) => !isPart(name)))],
  };
}

/** Whether the page shows `part`: always in the full app; in an embed, unless `parts=` leaves it out. */
export function showsPart(options: EmbedOptions, part: EmbedPart): boolean {
  return !options.embedded || options.parts === null || options.parts.has(part);
}

/**
 * The query of an embed of a page whose own query is `pageSearch` (`?sign=pos&basis=faithful`, or ""):
 * `embed=1`, and `parts=` only when `shown` is not every part of the page (`pageParts`).
 */
export function embedSearch(pageSearch: string, shown: readonly EmbedPart[], pageParts: readonly EmbedPart[]): string {
  const params = new URLSearchParams(pageSearch);
  params.set(EMBED_PARAM, "1");
  if (!pageParts.every((part) => shown.includes(part))) {
    params.set(PARTS_PARAM, pageParts.filter((part) => shown.includes(part)).join(","));
  }
  // Commas stay readable in the snippet: they are allowed unescaped in a query.
  return `?${params.toString().replaceAll("%2C", ",")}`;
}

/** `search` without the embed's parameters: the full app's address of the same view. */
export function withoutEmbed(search: URLSearchParams): URLSearchParams {
  const params = new URLSearchParams(search);
  params.delete(EMBED_PARAM);
  params.delete(PARTS_PARAM);
  return params;
}

/** `href` (an address of the app) with the embed's parameters of `search`, so a change of the view stays embedded. */
export function keepEmbed(href: string, search: URLSearchParams): string {
  if (!parseEmbedOptions(search).embedded) return href;
  const [path = "", query = ""] = href.split("?", 2);
  const params = new URLSearchParams(query);
  for (const name of [EMBED_PARAM, PARTS_PARAM]) {
    const value = search.get(name);
    if (value !== null) params.set(name, value);
  }
  return `${path}?${params.toString()}`;
}

/** The embed options of the address, provided by the layout (the full app where no layout provides them). */
export const EmbedContext = createContext<EmbedOptions>(FULL_APP);

export function useEmbedOptions(): EmbedOptions {
  return useContext(EmbedContext);
}

/** The full app's absolute address of `href` (an address of the app, embed parameters dropped). */
export function fullAppUrl(href: string, origin: string = window.location.origin): string {
  const to = new URL(href, origin);
  const query = withoutEmbed(to.searchParams).toString();
  return `${to.origin}${to.pathname}${query ? `?${query}` : ""}${to.hash}`;
}

/** Opens `href` in the full app, in a new tab (how an embed follows a link that leaves its view). */
export function openInFullApp(href: string): void {
  window.open(fullAppUrl(href), "_blank", "noopener");
}
