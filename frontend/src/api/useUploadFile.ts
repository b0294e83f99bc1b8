/** Sends a file to `POST /api/uploads`; exposes progress state and the API's error message. */
import { useCallback, useState } from "react";
import { api, type Upload } from "./client";
import { apiErrorMessage } from "./errors";

export type UploadState =
  | { status: "idle" }
  | { status: "uploading"; name: string; size: number }
  | { status: "error"; message: string; httpStatus?: number | undefined }
  | { status: "done"; upload: Upload };

export function useUploadFile(onDone: (upload: Upload) => void): [UploadState, (file: File) => Promise<void>] {
  const [state, setState] = useState<UploadState>({ status: "idle" });
  const send = useCallback(
    async (file: File) => {
      setState({ status: "uploading", name: file.name || "pasted image", size: file.size });
      try {
        const { data, error, response } = await api.POST("/api/uploads", {
          body: { file: file as unknown as string },
          bodySerializer: (body) => {
            const form = new FormData();
            form.append("file", body.file as unknown as Blob, file.name || "pasted-image");
            return form;
          },
        });
        if (data) {
          setState({ status: "done", upload: data });
          onDone(data);
        } else {
          setState({ status: "error", message: apiErrorMessage(error, response.status), httpStatus: response.status });
        }
      } catch {
        setState({ status: "error", message: apiErrorMessage(undefined) });
      }
    },
    [onDone],
  );
  return [state, send];
}
