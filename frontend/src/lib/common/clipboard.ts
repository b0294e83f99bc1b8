/**
 * Copying text for the reader. The clipboard API can be missing (an address that is not https or
 * localhost) or refused (a frame without the permission): then the text's field is selected, so that
 * Ctrl+C (⌘C) copies it, and the message says so.
 */

/** Copies `text`; selects `field` (the text shown) when the browser refuses. Returns the message to show. */
export async function copyText(text: string, field?: HTMLInputElement | HTMLTextAreaElement | null): Promise<string> {
  try {
    if (!navigator.clipboard) throw new Error("no clipboard API");
    await navigator.clipboard.writeText(text);
    return "Copied.";
  } catch {
    if (field) {
      field.focus();
      field.select();
      return "The browser refused to copy: the text is selected, press Ctrl+C (⌘C) to copy it.";
    }
    return `The browser refused to copy; copy this by hand: ${text}`;
  }
}
