import { useTheme } from "../../lib/common/theme";

export function ThemeToggle() {
  const [theme, toggle] = useTheme();
  const dark = theme === "dark";
  return (
    <button type="button" className="theme-toggle" aria-pressed={dark} onClick={toggle}>
      <span aria-hidden="true">{dark ? "☾" : "☀"}</span> <span className="theme-toggle-text">Dark mode</span>
    </button>
  );
}
