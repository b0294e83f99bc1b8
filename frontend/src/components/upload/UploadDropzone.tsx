/**
 * Accepts an image by drag and drop, the file picker, or paste (anywhere on the page), and shows
 * the upload's progress and the API's error message.
 */
import { type DragEvent, useEffect, useId, useState } from "react";
import type { UploadState } from "../../api/useUploadFile";
import { Loading } from "../ui/Status";

function firstFile(files: FileList | null | undefined): File | null {
  return files?.[0] ?? null;
}

function firstPastedFile(items: DataTransferItemList | null | undefined): File | null {
  for (const item of Array.from(items ?? [])) {
    const file = item.kind === "file" ? item.getAsFile() : null;
    if (file) return file;
  }
  return null;
}

function megabytes(bytes: number): string {
  return `${(bytes / 1e6).toFixed(bytes < 1e5 ? 2 : 1)} MB`;
}

export function UploadDropzone({ state, onFile }: { state: UploadState; onFile: (file: File) => void }) {
  const inputId = useId();
  const hintId = useId();
  const [over, setOver] = useState(false);

  useEffect(() => {
    const onPaste = (event: ClipboardEvent) => {
      const file = firstPastedFile(event.clipboardData?.items);
      if (file) {
        event.preventDefault();
        onFile(file);
      }
    };
    document.addEventListener("paste", onPaste);
    return () => document.removeEventListener("paste", onPaste);
  }, [onFile]);

  const onDrop = (event: DragEvent) => {
    event.preventDefault();
    setOver(false);
    const file = firstFile(event.dataTransfer.files);
    if (file) onFile(file);
  };

  return (
    <div className="upload-box">
      <div
        className={`dropzone${over ? " dropzone-over" : ""}`}
        onDragOver={(e) => {
          e.preventDefault();
          setOver(true);
        }}
        onDragLeave={() => setOver(false)}
        onDrop={onDrop}
      >
        <p id={hintId}>Drop an image here, paste one (Ctrl+V), or</p>
        <input
          id={inputId}
          className="visually-hidden"
          type="file"
          accept="image/*"
          aria-describedby={hintId}
          onChange={(e) => {
            const file = firstFile(e.target.files);
            e.target.value = "";
            if (file) onFile(file);
          }}
        />
        <label htmlFor={inputId} className="button button-primary">
          Choose an image…
        </label>
        <p className="muted small">
          JPEG, PNG, WebP, GIF, BMP or TIFF, up to 10 MB. Uploads are forgotten after 24 hours.
        </p>
      </div>
      {state.status === "uploading" ? <Loading label={`Uploading ${state.name} (${megabytes(state.size)})…`} /> : null}
      {state.status === "error" ? (
        <div className="status status-error" role="alert">
          <strong>Upload refused{state.httpStatus ? ` (HTTP ${state.httpStatus})` : ""}.</strong> {state.message}
        </div>
      ) : null}
    </div>
  );
}
