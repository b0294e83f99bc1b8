/** Copies the current page address; says whether it worked (clipboard access can be refused). */
import { useState } from "react";
import { copyText } from "../../lib/common/clipboard";

export function CopyLinkButton() {
  const [message, setMessage] = useState("");
  return (
    <span className="copy-link">
      <button type="button" className="button" onClick={() => void copyText(window.location.href).then(setMessage)}>
        Copy link
      </button>
      <span role="status" aria-live="polite" className="copy-link-status">
        {message === "Copied." ? "Link copied." : message}
      </span>
    </span>
  );
}
