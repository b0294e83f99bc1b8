/** Chart downloads as files: their names, and handing a blob to the browser as a download. */

/** `qkatlas-<parts>.<ext>`, lower case, with anything but letters, digits, `.`, `_` and `-` as `-`. */
export function exportFileName(parts: string[], extension: "csv" | "png"): string {
  const stem = ["qkatlas", ...parts]
    .join("-")
    .toLowerCase()
    .replace(/[^a-z0-9._-]+/g, "-")
    .replace(/-{2,}/g, "-")
    .replace(/^-|-$/g, "");
  return `${stem}.${extension}`;
}

export function downloadBlob(blob: Blob, fileName: string): void {
  const href = URL.createObjectURL(blob);
  const link = document.createElement("a");
  link.href = href;
  link.download = fileName;
  link.style.display = "none";
  document.body.append(link);
  link.click();
  link.remove();
  // Revoking at once can cancel the download in some browsers; a minute is plenty.
  setTimeout(() => URL.revokeObjectURL(href), 60_000);
}
