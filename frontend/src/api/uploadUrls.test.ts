import { describe, expect, it } from "vitest";
import { isUploadId } from "./uploadUrls";

describe("upload ids", () => {
  it("accepts the 32 lower-case hex digits of a SHA-256 prefix", async () => {
    const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode("an image"));
    const hex = [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
    expect(isUploadId(hex.slice(0, 32))).toBe(true);
  });

  it.each(["deadbeef", "0123456789abcdef0123456789ABCDEF", `${"a".repeat(32)}0`, `${"g".repeat(32)}`, ""])(
    "refuses %j",
    (id) => expect(isUploadId(id)).toBe(false),
  );
});
