import { render, screen } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import { DEFAULT_OVERLAY } from "../../lib/mode/overlay";
import { DownloadFigure, figureUrl } from "./DownloadFigure";

const MODE = { model: "facebook--dino-vits16", revision: "0123456789abcdef", layer: 3, head: 2, mode: 0 } as const;

describe("DownloadFigure", () => {
  it("links the mode's SVG and 300-dpi PNG with the page's sign, basis, options and revision", () => {
    const options = { ...DEFAULT_OVERLAY, palette: "orange_blue" as const };
    render(<DownloadFigure of={{ ...MODE, sign: "neg", basis: "exact" }} options={options} />);
    expect(screen.getByRole("group", { name: "Download a figure of this mode's top images" })).toBeTruthy();
    const svg = screen.getByRole("link", { name: "SVG" });
    const png = screen.getByRole("link", { name: "PNG (300 dpi)" });
    for (const [link, format] of [
      [svg, "svg"],
      [png, "png"],
    ] as const) {
      expect(link.hasAttribute("download")).toBe(true);
      const url = new URL(link.getAttribute("href") ?? "", "http://x");
      expect(url.pathname).toBe(`/api/models/facebook--dino-vits16/layers/3/heads/2/modes/0/figure.${format}`);
      expect(Object.fromEntries(url.searchParams)).toEqual({
        sign: "neg",
        basis: "exact",
        channel: "both",
        palette: "orange_blue",
        blend: "1.00",
        opacity: "0.60",
        v: "0123456789abcdef",
      });
    }
  });

  it("addresses the head's figure when no mode is given", () => {
    const head = { model: MODE.model, revision: MODE.revision, layer: MODE.layer, head: MODE.head };
    const url = figureUrl({ ...head, sign: "pos", basis: "faithful" }, "png", DEFAULT_OVERLAY);
    expect(url.startsWith("/api/models/facebook--dino-vits16/layers/3/heads/2/figure.png?")).toBe(true);
    render(<DownloadFigure of={{ ...head, sign: "pos", basis: "faithful" }} options={DEFAULT_OVERLAY} />);
    expect(screen.getByRole("group", { name: "Download a figure of this head's first active modes" })).toBeTruthy();
  });
});
