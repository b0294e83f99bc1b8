/** Reads and validates the `/m/:model/L…/H…/M…` route parameters. */
import { useParams } from "react-router";
import { parseIndexSegment } from "./paths";

export interface ModelRoute {
  model: string;
  layer: number | null;
  head: number | null;
  mode: number | null;
  /** A segment is present but malformed (`/m/x/Lfoo`): the page shows "not found". */
  malformed: boolean;
}

export function useModelRoute(): ModelRoute {
  const { model = "", layerSeg, headSeg, modeSeg } = useParams();
  const layer = parseIndexSegment(layerSeg, "L");
  const head = parseIndexSegment(headSeg, "H");
  const mode = parseIndexSegment(modeSeg, "M");
  const malformed =
    (layerSeg !== undefined && layer === null) ||
    (headSeg !== undefined && head === null) ||
    (modeSeg !== undefined && mode === null);
  return { model, layer, head, mode, malformed };
}
