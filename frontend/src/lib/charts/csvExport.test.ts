import { describe, expect, it } from "vitest";
import { toCsv } from "./csvExport";

describe("toCsv", () => {
  it("writes a header row, the context columns first, and full-precision numbers", () => {
    const csv = toCsv(
      { columns: ["share", "layer", "value", "uniform attention"], rows: [["same object", 0, 0.123456789, null]] },
      { model: "facebook/dino-vits16" },
    );
    expect(csv).toBe(
      "model,share,layer,value,uniform attention\r\nfacebook/dino-vits16,same object,0,0.123456789,\r\n",
    );
  });

  it("quotes cells with commas, quotes or line breaks, and writes booleans as words", () => {
    const csv = toCsv({
      columns: ["label", "degenerate"],
      rows: [
        ['a "b", c', true],
        ["line\nbreak", false],
      ],
    });
    expect(csv.split("\r\n")).toEqual(["label,degenerate", '"a ""b"", c",true', '"line\nbreak",false', ""]);
  });

  it("leaves non-finite numbers empty", () => {
    expect(toCsv({ columns: ["x"], rows: [[Number.NaN]] })).toBe("x\r\n\r\n");
  });
});
