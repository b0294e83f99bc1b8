import { describe, expect, it } from "vitest";
import { exportFileName } from "./download";

describe("exportFileName", () => {
  it("says what the file is, in safe characters", () => {
    expect(exportFileName(["planted__shapes", "o3", "target-query"], "csv")).toBe(
      "qkatlas-planted__shapes-o3-target-query.csv",
    );
    expect(exportFileName(["a b/ c", "L1"], "png")).toBe("qkatlas-a-b-c-l1.png");
  });
});
