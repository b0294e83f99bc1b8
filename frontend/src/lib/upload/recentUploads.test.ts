import { beforeEach, describe, expect, it } from "vitest";
import type { Upload } from "../../api/client";
import { forgetUpload, RECENT_UPLOADS, recentUploads, rememberUpload } from "./recentUploads";

const id = (n: number) => n.toString(16).padStart(32, "0");
const upload = (n: number, expiresInS = 3600): Upload => ({
  id: id(n),
  width: 10,
  height: 10,
  n_bytes: 100,
  expires_in_s: expiresInS,
});

beforeEach(() => localStorage.clear());

describe("recent uploads", () => {
  it("lists the newest first, once each, and keeps at most RECENT_UPLOADS", () => {
    for (let n = 1; n <= RECENT_UPLOADS + 2; n++) rememberUpload(upload(n), 1000);
    rememberUpload(upload(5), 2000);
    const ids = recentUploads(2000).map((r) => r.id);
    expect(ids).toHaveLength(RECENT_UPLOADS);
    expect(ids[0]).toBe(id(5));
    expect(ids[1]).toBe(id(RECENT_UPLOADS + 2));
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids).not.toContain(id(1));
  });

  it("drops an upload once the server has forgotten it, or when told to", () => {
    rememberUpload(upload(1, 10), 0);
    rememberUpload(upload(2, 100), 0);
    expect(recentUploads(5_000).map((r) => r.id)).toEqual([id(2), id(1)]);
    expect(recentUploads(10_000).map((r) => r.id)).toEqual([id(2)]);
    forgetUpload(id(2));
    expect(recentUploads(0).map((r) => r.id)).toEqual([id(1)]);
  });

  it("ignores what it did not write", () => {
    localStorage.setItem("qkatlas-recent-uploads", "{not json");
    expect(recentUploads()).toEqual([]);
    localStorage.setItem(
      "qkatlas-recent-uploads",
      JSON.stringify([{ id: "../../x", expiresAt: 9e15 }, { id: id(3), expiresAt: 9e15 }, 7]),
    );
    expect(recentUploads().map((r) => r.id)).toEqual([id(3)]);
  });
});
