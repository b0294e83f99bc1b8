import { useTheme } from "../../lib/common/theme";

/**
 * Says its state in its name and text ("Dark mode: on") as well as in `aria-pressed`, so a reader
 * need not infer it from the page's colours or the icon.
 */
export function ThemeToggle() {
  const [theme, toggle] = useTheme();
  const dark = theme === "dark";
  return (
    <button
      type="button"
      className="theme-toggle"
      aria-pressed={dark}
      onClick={toggle}
      title={dark ? "Switch to the light theme" : "Switch to the dark theme"}
    >
      <span aria-hidden="true">{dark ? "☾" : "☀"}</span>{" "}
      <span className="theme-toggle-text">Dark mode: {dark ? "on" : "off"}</span>
    </button>
  );
}
