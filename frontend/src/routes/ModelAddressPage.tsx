/**
 * A `/m/…` address that no model route matches: a model id written as two segments
 * (`/m/facebook/dino-vits16/L3/H2/M0`) is replaced by the canonical address (ModelGate); any other is
 * not a page of the model it names, and says what the pages are.
 */
import { ModelGate } from "../components/layout/ModelGate";
import { NotFound } from "../components/layout/NotFound";
import { segmentFormats } from "../lib/address/modelAddress";
import { modelPath } from "../lib/address/paths";

export default function ModelAddressPage() {
  return (
    <ModelGate>
      {({ summary }) => (
        <NotFound
          problem={`This address is not a page of ${summary.model_id}.`}
          exists={segmentFormats(summary)}
          links={[{ label: `${summary.model_id}: all its heads`, to: modelPath(summary.slug) }]}
        />
      )}
    </ModelGate>
  );
}
