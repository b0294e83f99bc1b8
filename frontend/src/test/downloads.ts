import { fireEvent, screen, waitFor, within } from "@testing-library/react";
import { expect, vi } from "vitest";

/** Clicks "Download CSV" in the chart's download group; returns the file's name and text. */
export async function downloadCsv(title: string): Promise<{ name: string; text: string }> {
  const blobs: Blob[] = [];
  vi.spyOn(URL, "createObjectURL").mockImplementation((blob) => {
    blobs.push(blob as Blob);
    return "blob:test";
  });
  const clicked: string[] = [];
  vi.spyOn(HTMLAnchorElement.prototype, "click").mockImplementation(function (this: HTMLAnchorElement) {
    clicked.push(this.download);
  });
  const group = screen.getByRole("group", { name: `Download “${title}”` });
  fireEvent.click(within(group).getByRole("button", { name: "Download CSV" }));
  await waitFor(() => expect(clicked).toHaveLength(1));
  return { name: clicked[0]!, text: await blobs[0]!.text() };
}
