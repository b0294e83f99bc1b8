import { describe, expect, it } from "vitest";
import { centredDrive, isFlatKeyTerm, modeDrives, patchCoords, patchIndex, patchLabel } from "./attention";

describe("mode drives of an attention row", () => {
  it("ignores logits constant over keys (they cancel in the softmax)", () => {
    expect(centredDrive([0.5, 0.5], [3, 3])).toBeCloseTo(0);
  });

  it("is positive for a mode that raises the attended key", () => {
    expect(centredDrive([1, 0], [2, 0])).toBeCloseTo(1);
    expect(centredDrive([1, 0], [0, 2])).toBeCloseTo(-1);
  });

  it("sorts modes by the size of their drive", () => {
    const drives = modeDrives(
      [0.9, 0.1],
      [
        { mode: 0, logits: [0, 0] },
        { mode: 1, logits: [0, 4] },
        { mode: 2, logits: [1, 0] },
      ],
    );
    expect(drives.map((d) => d.mode)).toEqual([1, 2, 0]);
    expect(drives[0]!.drive).toBeLessThan(0);
  });

  it("maps patch indices row-major", () => {
    expect(patchIndex(2, 3, 14)).toBe(31);
    expect(patchCoords(31, 14)).toEqual({ row: 2, col: 3 });
  });

  it("labels a patch as the address numbers it: index, row and column from 0", () => {
    expect(patchLabel(0, 14)).toBe("patch 0 (row 0, column 0)");
    expect(patchLabel(31, 14)).toBe("patch 31 (row 2, column 3)");
  });

  it("finds a key-only term flat when it is the same on every key", () => {
    expect(
      isFlatKeyTerm([
        [0, 0],
        [0, 0],
      ]),
    ).toBe(true);
    expect(
      isFlatKeyTerm([
        [2, 2],
        [2, 2 + 1e-9],
      ]),
    ).toBe(true);
    expect(
      isFlatKeyTerm([
        [0, 0],
        [0, 0.01],
      ]),
    ).toBe(false);
  });
});
