/**
 * A small "?" button next to a term that opens its definition from the glossary. A click, Enter or
 * Space (or a tap) toggles it; Escape or a click elsewhere closes it, and Escape returns the focus to
 * the button. The popover is a non-modal dialog named after the term, so a screen reader announces
 * what it explains. It is placed in the viewport (fixed), next to the button, so that a scrolling
 * table or chart around the button does not clip it; scrolling closes it.
 */
import { type CSSProperties, useEffect, useId, useRef, useState } from "react";
import { GLOSSARY, type GlossaryTerm } from "../../lib/help/glossary";

export function HelpTip({ term }: { term: GlossaryTerm }) {
  const { term: name, text } = GLOSSARY[term];
  const [open, setOpen] = useState(false);
  const [place, setPlace] = useState<CSSProperties>({});
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
    const close = () => setOpen(false);
    document.addEventListener("keydown", onKey);
    document.addEventListener("pointerdown", onPointer);
    // Capture: the scroll of any container, not only the page's.
    document.addEventListener("scroll", close, true);
    window.addEventListener("resize", close);
    return () => {
      document.removeEventListener("keydown", onKey);
      document.removeEventListener("pointerdown", onPointer);
      document.removeEventListener("scroll", close, true);
      window.removeEventListener("resize", close);
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
          if (!open) setPlace(placeBelowOrAbove(event.currentTarget.getBoundingClientRect()));
          setOpen(!open);
        }}
      >
        ?
      </button>
      {open ? (
        <span id={id} role="dialog" aria-label={name} className="help-popover" style={place}>
          <strong>{name}</strong>: {text}
        </span>
      ) : null}
    </span>
  );
}

const POPOVER_WIDTH = 352;
const MARGIN = 8;

/** Under the button, or above it in the lower part of the viewport; kept inside the viewport's width. */
function placeBelowOrAbove(button: DOMRect): CSSProperties {
  const width = Math.min(POPOVER_WIDTH, window.innerWidth - 2 * MARGIN);
  const left = Math.max(MARGIN, Math.min(button.left - MARGIN, window.innerWidth - width - MARGIN));
  const vertical =
    button.bottom > window.innerHeight * 0.6
      ? { bottom: window.innerHeight - button.top + 6 }
      : { top: button.bottom + 6 };
  return { left, width, ...vertical };
}
