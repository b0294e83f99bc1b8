/** Copies the current page address; says whether it worked (clipboard access can be refused). */
import { useState } from "react";

export function CopyLinkButton() {
  const [message, setMessage] = useState("");
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(window.location.href);
      setMessage("Link copied.");
    } catch {
      setMessage(`Copy this address: ${window.location.href}`);
    }
  };
  return (
    <span className="copy-link">
      <button type="button" className="button" onClick={() => void copy()}>
        Copy link
      </button>
      <span role="status" aria-live="polite" className="copy-link-status">
        {message}
      </span>
    </span>
  );
}
