/**
 * A small "?" button next to a term that opens its definition from the glossary. A click, Enter or
 * Space (or a tap) toggles it; Escape or a click elsewhere closes it, and Escape returns the focus to
 * the button. The popover is a non-modal dialog named after the term, so a screen reader announces
 * what it explains.
 */
import { useEffect, useId, useRef, useState } from "react";
import { GLOSSARY, type GlossaryTerm } from "../lib/glossary";

export function HelpTip({ term }: { term: GlossaryTerm }) {
  const { term: name, text } = GLOSSARY[term];
  const [open, setOpen] = useState(false);
  const id = useId();
  const root = useRef<HTMLSpanElement>(null);
  const button = useRef<HTMLButtonElement>(null);

  useEffect(() => {
    if (!open) return;
    const onKey = (event: KeyboardEvent) => {
      if (event.key !== "Escape") return;
      event.preventDefault();
      setOpen(false);
      button.current?.focus();
    };
    const onPointer = (event: PointerEvent) => {
      if (!(event.target instanceof Node) || !root.current?.contains(event.target)) setOpen(false);
    };
    document.addEventListener("keydown", onKey);
    document.addEventListener("pointerdown", onPointer);
    return () => {
      document.removeEventListener("keydown", onKey);
      document.removeEventListener("pointerdown", onPointer);
    };
  }, [open]);

  return (
    <span className="help" ref={root}>
      <button
        ref={button}
        type="button"
        className="help-button"
        aria-label={`What is ${name}?`}
        aria-expanded={open}
        aria-controls={open ? id : undefined}
        onClick={(event) => {
          // Inside a table header or a label, the click must not also sort or pick.
          event.stopPropagation();
          setOpen((o) => !o);
        }}
      >
        ?
      </button>
      {open ? (
        <span id={id} role="dialog" aria-label={name} className="help-popover">
          <strong>{name}</strong>: {text}
        </span>
      ) : null}
    </span>
  );
}
