/**
 * The header's search: an ARIA 1.2 combobox (an input that owns a listbox) over `/api/search`, asked
 * 150 ms after the last keystroke. It offers models, layers, heads and modes by name ("L6 H2 M3"),
 * classes, and the modes most selective for a class (with their best image). ↓ ↑ move through the
 * options, Enter opens the highlighted one (or, with none, the full results page), Escape closes the
 * list (and clears the box when it is closed); `/` anywhere else focuses the box.
 */
import { keepPreviousData, useQuery } from "@tanstack/react-query";
import { type KeyboardEvent, useEffect, useEffectEvent, useId, useRef, useState } from "react";
import { useLocation, useNavigate } from "react-router";
import { searchQuery } from "../../api/resources";
import { ownsKey } from "../../lib/keys/keyboard";
import { useDebouncedDraft } from "../../lib/common/useDebouncedDraft";
import { type SearchOption, searchOptions } from "../../lib/search/searchOptions";
import { searchPath } from "../../lib/address/paths";

/** Wait after the last keystroke before asking the server. */
export const SEARCH_DEBOUNCE_MS = 150;
/** Results asked for by the box (it shows a few of each kind). */
const LIMIT = 8;

export function SearchBox() {
  const navigate = useNavigate();
  const location = useLocation();
  const id = useId();
  const input = useRef<HTMLInputElement>(null);
  // What is typed, and what of it the search asks for: the text once it rests.
  const [settled, setSettled] = useState("");
  const [draft, edit] = useDebouncedDraft({ text: settled }, ({ text }) => setSettled(text), SEARCH_DEBOUNCE_MS);
  const text = draft.text;
  const setText = (typed: string) => edit({ text: typed });
  const [open, setOpen] = useState(false);
  const [active, setActive] = useState(-1);
  const query = settled.trim();

  const results = useQuery({
    ...searchQuery(query, LIMIT),
    enabled: query.length > 0,
    // While the next answer comes, the last one stays (the list does not flicker as one types).
    placeholderData: keepPreviousData,
  });
  const options = query ? searchOptions(results.data, query) : [];
  const expanded = open && query.length > 0;
  const listId = `${id}-list`;
  const optionId = (option: SearchOption) => `${id}-${option.key}`;

  // Another page: close the list.
  const [path, setPath] = useState(location.pathname + location.search);
  if (path !== location.pathname + location.search) {
    setPath(location.pathname + location.search);
    setOpen(false);
    setActive(-1);
  }

  const go = (href: string) => {
    setOpen(false);
    setActive(-1);
    setText("");
    input.current?.blur();
    navigate(href);
  };

  const onKeyDown = (event: KeyboardEvent<HTMLInputElement>) => {
    const n = options.length;
    switch (event.key) {
      case "ArrowDown":
        event.preventDefault();
        setOpen(true);
        if (n > 0) setActive((i) => (i + 1) % n);
        break;
      case "ArrowUp":
        event.preventDefault();
        setOpen(true);
        if (n > 0) setActive((i) => (i <= 0 ? n - 1 : i - 1));
        break;
      case "Enter": {
        event.preventDefault();
        const option = expanded ? options[active] : undefined;
        if (option) go(option.href);
        else if (text.trim()) go(searchPath(text.trim()));
        break;
      }
      case "Escape":
        event.preventDefault();
        if (expanded) {
          setOpen(false);
          setActive(-1);
        } else {
          setText("");
        }
        break;
      default:
        break;
    }
  };

  // `/` focuses the box, unless the focused control takes typing itself.
  const onWindowKey = useEffectEvent((event: globalThis.KeyboardEvent) => {
    if (event.key !== "/" || event.defaultPrevented || event.altKey || event.ctrlKey || event.metaKey) return;
    if (ownsKey(event.target, event.key)) return;
    event.preventDefault();
    input.current?.focus();
  });
  useEffect(() => {
    const listener = (event: globalThis.KeyboardEvent) => onWindowKey(event);
    window.addEventListener("keydown", listener);
    return () => window.removeEventListener("keydown", listener);
  }, []);

  const activeOption = expanded ? options[active] : undefined;
  const status = !query
    ? ""
    : results.isError
      ? `Search failed: ${results.error.message}`
      : results.isFetching && !results.data
        ? "Searching…"
        : options.length <= 1
          ? `No model, mode or class matches “${query}”.`
          : `${options.length - 1} results; ↓ ↑ to choose, Enter to open.`;

  // Options in their groups, in order (the indices are those of `options`).
  const groups: { name: string; items: [SearchOption, number][] }[] = [];
  options.forEach((option, i) => {
    const last = groups.at(-1);
    if (last && last.name === option.group) last.items.push([option, i]);
    else groups.push({ name: option.group, items: [[option, i]] });
  });

  return (
    <div className="search-box" role="search">
      <label htmlFor={`${id}-input`} className="visually-hidden">
        Search models, modes and classes
      </label>
      <input
        ref={input}
        id={`${id}-input`}
        type="search"
        role="combobox"
        aria-expanded={expanded}
        aria-controls={listId}
        aria-autocomplete="list"
        aria-activedescendant={activeOption ? optionId(activeOption) : undefined}
        aria-describedby={`${id}-status`}
        placeholder="Search: L6 H2 M3, a model, a class  ( / )"
        autoComplete="off"
        spellCheck={false}
        value={text}
        onChange={(event) => {
          setText(event.target.value);
          setOpen(true);
          setActive(-1);
        }}
        onFocus={() => setOpen(true)}
        onBlur={() => setOpen(false)}
        onKeyDown={onKeyDown}
      />
      <div className="search-popup" hidden={!expanded}>
        <div id={listId} role="listbox" aria-label="Search results">
          {groups.map((group) => (
            <div key={group.name} role="group" aria-labelledby={`${id}-group-${group.name.replace(/\W+/g, "-")}`}>
              <div
                id={`${id}-group-${group.name.replace(/\W+/g, "-")}`}
                className="search-group-label"
                role="presentation"
              >
                {group.name}
              </div>
              {group.items.map(([option, i]) => (
                <div
                  key={option.key}
                  id={optionId(option)}
                  role="option"
                  aria-selected={i === active}
                  className={i === active ? "search-option active" : "search-option"}
                  // Keep the focus in the input: a click picks the option.
                  onMouseDown={(event) => event.preventDefault()}
                  onMouseMove={() => setActive(i)}
                  onClick={() => go(option.href)}
                >
                  {option.thumbnail ? (
                    <img src={option.thumbnail} alt="" width={32} height={32} loading="lazy" />
                  ) : null}
                  <span className="search-option-label">{option.label}</span>
                  {option.detail ? <span className="search-option-detail">{option.detail}</span> : null}
                </div>
              ))}
            </div>
          ))}
        </div>
        <div id={`${id}-status`} className="search-status" role="status" aria-live="polite">
          {expanded ? status : ""}
        </div>
      </div>
    </div>
  );
}
