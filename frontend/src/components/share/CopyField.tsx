/** A labelled read-only text (a link, a snippet, a citation) with a button that copies it and says so. */
import { useId, useRef, useState } from "react";
import { copyText } from "../../lib/common/clipboard";

export function CopyField({ label, value, rows = 1 }: { label: string; value: string; rows?: number }) {
  const id = useId();
  const field = useRef<HTMLTextAreaElement>(null);
  const [message, setMessage] = useState("");
  return (
    <div className="copy-field">
      <label htmlFor={id}>{label}</label>
      <div className="copy-field-row">
        <textarea
          id={id}
          ref={field}
          readOnly
          rows={rows}
          value={value}
          spellCheck={false}
          onFocus={(event) => event.currentTarget.select()}
        />
        <button
          type="button"
          className="button"
          aria-label={`Copy ${label.toLowerCase()}`}
          onClick={() => void copyText(value, field.current).then(setMessage)}
        >
          Copy
        </button>
      </div>
      <p role="status" aria-live="polite" className="copy-field-status">
        {message}
      </p>
    </div>
  );
}
