/** Turns an API error body (or a network failure) into the message shown to the user. */

interface ValidationItem {
  msg?: unknown;
  loc?: unknown;
}

function validationMessage(items: ValidationItem[]): string {
  return items
    .map((item) => {
      const where = Array.isArray(item.loc) ? item.loc.filter((p) => p !== "body").join(".") : "";
      const msg = typeof item.msg === "string" ? item.msg : "invalid value";
      return where ? `${where}: ${msg}` : msg;
    })
    .join("; ");
}

export function apiErrorMessage(error: unknown, status?: number): string {
  if (error && typeof error === "object" && "detail" in error) {
    const detail = (error as { detail: unknown }).detail;
    if (typeof detail === "string" && detail) return detail;
    if (Array.isArray(detail) && detail.length > 0) return validationMessage(detail as ValidationItem[]);
  }
  if (status === 404) return "Not found.";
  if (status === 429) return "Too many requests: please wait a moment and try again.";
  if (status !== undefined) return `The server answered with an error (HTTP ${status}).`;
  return "The server could not be reached.";
}
