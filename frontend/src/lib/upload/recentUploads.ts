/**
 * The uploads this browser made or opened recently, newest first, kept in localStorage so that a mode
 * page can offer them ("Try your image"). An entry is dropped once the server has forgotten the upload
 * (its `expires_in_s` has run out, or the server says it is gone).
 */
import type { Upload } from "../../api/client";
import { isUploadId } from "../../api/uploadUrls";

const STORAGE_KEY = "qkatlas-recent-uploads";
/** How many uploads the list keeps. */
export const RECENT_UPLOADS = 8;

export interface RecentUpload {
  id: string;
  /** When the server forgets it, in ms since the epoch. */
  expiresAt: number;
}

function isRecentUpload(value: unknown): value is RecentUpload {
  if (typeof value !== "object" || value === null) return false;
  const entry = value as Record<string, unknown>;
  return typeof entry.id === "string" && isUploadId(entry.id) && typeof entry.expiresAt === "number";
}

function read(): RecentUpload[] {
  try {
    const parsed: unknown = JSON.parse(localStorage.getItem(STORAGE_KEY) ?? "[]");
    return Array.isArray(parsed) ? parsed.filter(isRecentUpload) : [];
  } catch {
    return []; // storage unavailable (private mode) or an entry written by something else
  }
}

function write(entries: RecentUpload[]): void {
  try {
    localStorage.setItem(STORAGE_KEY, JSON.stringify(entries));
  } catch {
    /* storage unavailable: the list lasts for this page only */
  }
}

/** The uploads the server still keeps, newest first. */
export function recentUploads(now: number = Date.now()): RecentUpload[] {
  return read().filter((entry) => entry.expiresAt > now);
}

/** Puts `upload` first in the list (once), dropping expired entries and the oldest beyond `RECENT_UPLOADS`. */
export function rememberUpload(upload: Upload, now: number = Date.now()): void {
  const entry = { id: upload.id, expiresAt: now + upload.expires_in_s * 1000 };
  write([entry, ...recentUploads(now).filter((e) => e.id !== upload.id)].slice(0, RECENT_UPLOADS));
}

/** Drops `id` from the list (the server no longer has it). */
export function forgetUpload(id: string): void {
  write(read().filter((entry) => entry.id !== id));
}
