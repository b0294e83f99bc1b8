import { fireEvent, render, screen } from "@testing-library/react";
import { describe, expect, it, vi } from "vitest";
import { UploadDropzone } from "./UploadDropzone";

describe("UploadDropzone", () => {
  it("passes a picked file on", () => {
    const onFile = vi.fn();
    render(<UploadDropzone state={{ status: "idle" }} onFile={onFile} />);
    const input = screen.getByLabelText(/choose an image/i) as HTMLInputElement;
    const file = new File(["x"], "cat.png", { type: "image/png" });
    fireEvent.change(input, { target: { files: [file] } });
    expect(onFile).toHaveBeenCalledWith(file);
  });

  it("passes a dropped file on", () => {
    const onFile = vi.fn();
    const { container } = render(<UploadDropzone state={{ status: "idle" }} onFile={onFile} />);
    const file = new File(["x"], "dog.jpg", { type: "image/jpeg" });
    fireEvent.drop(container.querySelector(".dropzone")!, { dataTransfer: { files: [file] } });
    expect(onFile).toHaveBeenCalledWith(file);
  });

  it("shows progress and the API's error message", () => {
    const { rerender } = render(
      <UploadDropzone state={{ status: "uploading", name: "a.jpg", size: 2_000_000 }} onFile={vi.fn()} />,
    );
    expect(screen.getByRole("status").textContent).toContain("Uploading a.jpg (2.0 MB)");
    rerender(<UploadDropzone state={{ status: "error", message: "not an image", httpStatus: 415 }} onFile={vi.fn()} />);
    expect(screen.getByRole("alert").textContent).toContain("not an image");
    expect(screen.getByRole("alert").textContent).toContain("HTTP 415");
  });
});
