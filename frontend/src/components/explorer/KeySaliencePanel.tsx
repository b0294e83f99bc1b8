/**
 * The head's key salience on the user's image (docs/method.md#key-salience): the part of the logit that
 * depends on the key alone. When it is the same on every patch (a head whose query has no constant
 * part, W_q β + b_q = 0), a map would be blank: the panel says so instead.
 */
import { isFlatKeyTerm } from "../../lib/upload/attention";
import { HelpTip } from "../ui/HelpTip";
import { PatchHeatmap } from "./PatchHeatmap";

export const FLAT_KEY_SALIENCE_NOTE =
  "Key salience: none in this head. The key-only term of the logit is the same on every patch (this head's query has no constant part, W_q β + b_q = 0, as in heads without a query bias after a LayerNorm without shift), so where a patch attends depends on the query alone.";

export function KeySaliencePanel({
  imageSrc,
  grid,
  keySalience,
}: {
  imageSrc: string;
  grid: number;
  keySalience: number[][];
}) {
  if (isFlatKeyTerm(keySalience)) {
    return (
      <p className="muted small key-salience-flat">
        {FLAT_KEY_SALIENCE_NOTE}
        <HelpTip term="keySalience" />
      </p>
    );
  }
  return (
    <figure className="key-salience">
      <PatchHeatmap
        src={imageSrc}
        alt="Key salience of this head on your image: the key-only logit term (magenta: higher)"
        grid={grid}
        values={keySalience}
        legend="key salience: the key-only logit term (defined up to a constant)"
        size={200}
      />
      <figcaption>Key salience: the key-only term of the logit, which survives the softmax.</figcaption>
      <HelpTip term="keySalience" />
    </figure>
  );
}
