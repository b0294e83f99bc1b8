/**
 * A dataset image opened as an upload (`POST /api/images/{image_id}/upload`) travels to its upload
 * view in the history state, so that the view can say what it shows (it survives a reload of that
 * page, not a shared link: the upload itself is an ordinary one).
 */
import type { DatasetImageUpload } from "../../api/client";

export interface DatasetImageState {
  datasetImage: DatasetImageUpload;
}

/** The dataset image behind upload `uploadId`, when the history state carries it. */
export function datasetImageOf(state: unknown, uploadId: string): DatasetImageUpload | null {
  if (typeof state !== "object" || state === null || !("datasetImage" in state)) return null;
  const { datasetImage } = state as DatasetImageState;
  return datasetImage.upload.id === uploadId ? datasetImage : null;
}
