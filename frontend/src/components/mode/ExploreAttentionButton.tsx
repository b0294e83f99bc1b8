/**
 * "Explore attention in this image": turns a dataset top image into an upload and opens its upload
 * view for the same model, layer, head and basis, scrolled to the attention explorer, with the mode
 * it came from marked in the head's ranking.
 */
import { useState } from "react";
import { useNavigate } from "react-router";
import { api, type Basis, type TopImage } from "../../api/client";
import { apiErrorMessage } from "../../api/errors";
import type { DatasetImageState } from "../../lib/mode/datasetImage";
import { type SignedMode, uploadPath } from "../../lib/address/paths";
import { EXPLORER_FRAGMENT } from "../explorer/AttentionExplorer";
import { ErrorNotice } from "../ui/Status";
import { useEmbedOptions } from "../../lib/embed/embedOptions";

export interface ExploreTarget {
  model: string;
  layer: number;
  head: number;
  basis: Basis;
  /** The mode whose page it is opened from. */
  highlight: SignedMode;
}

export function ExploreAttentionButton({ image, target }: { image: TopImage; target: ExploreTarget }) {
  const navigate = useNavigate();
  // An embed offers no analysis: the upload page is the full app's ("open in qkatlas").
  const { embedded } = useEmbedOptions();
  const [state, setState] = useState<{ status: "idle" | "sending" } | { status: "error"; message: string }>({
    status: "idle",
  });
  const explore = async () => {
    setState({ status: "sending" });
    try {
      const { data, error, response } = await api.POST("/api/images/{image_id}/upload", {
        params: { path: { image_id: image.image_id } },
      });
      if (!data) {
        setState({ status: "error", message: apiErrorMessage(error, response.status) });
        return;
      }
      const state: DatasetImageState = { datasetImage: data };
      navigate(`${uploadPath(data.upload.id, target)}#${EXPLORER_FRAGMENT}`, { state });
    } catch {
      setState({ status: "error", message: apiErrorMessage(undefined) });
    }
  };
  if (embedded) return null;
  return (
    <>
      <button
        type="button"
        className="button button-primary"
        disabled={state.status === "sending"}
        onClick={() => void explore()}
      >
        {state.status === "sending" ? "Preparing the image…" : "Explore attention in this image"}
      </button>
      {state.status === "error" ? (
        <ErrorNotice title="The image could not be opened as an upload" message={state.message} />
      ) : null}
    </>
  );
}
