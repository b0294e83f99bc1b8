/** Names and links of the signed modes found for a class (search, class page). */
import type { ClassModeMatch } from "../../api/client";
import { modeName } from "../common/format";
import { modePath } from "../address/paths";

/** A model's id without its organisation (`facebook/dino-vitb16` → `dino-vitb16`). */
export function shortModelName(modelId: string): string {
  return modelId.replace(/\/+$/, "").split("/").pop() || modelId;
}

/** A mode's name as search shows it: `dino-vitb16 L6 H2 M3 pos` (`withModel`) or `L6 H2 M3 pos`. */
export function classModeTitle(match: ClassModeMatch, withModel: boolean): string {
  const { mode } = match;
  const name = `${modeName(mode.layer, mode.head, mode.mode)} ${mode.sign}`;
  return withModel ? `${shortModelName(mode.model_id)} ${name}` : name;
}

export function classModeHref(match: ClassModeMatch): string {
  const { mode } = match;
  return modePath(mode.model, mode.layer, mode.head, mode.mode, { sign: mode.sign, basis: mode.basis });
}
