/** Loading, error and empty states, announced to assistive technology. */
import type { ReactNode } from "react";
import type { Loadable } from "../api/useApi";

export function Loading({ label = "Loading…" }: { label?: string }) {
  return (
    <div className="status status-loading" role="status" aria-live="polite">
      <span className="spinner" aria-hidden="true" />
      {label}
    </div>
  );
}

export function ErrorNotice({ message, title = "Something went wrong" }: { message: string; title?: string | undefined }) {
  return (
    <div className="status status-error" role="alert">
      <strong>{title}.</strong> {message}
    </div>
  );
}

export function Empty({ children }: { children: ReactNode }) {
  return <div className="status status-empty">{children}</div>;
}

/** Renders `children(data)` once loaded; otherwise the loading or error state. */
export function Loaded<T>({
  state,
  label,
  children,
}: {
  state: Loadable<T>;
  label?: string;
  children: (data: T) => ReactNode;
}) {
  if (state.status === "loading") return <Loading label={label} />;
  if (state.status === "error") {
    return <ErrorNotice title={state.httpStatus === 404 ? "Not found" : undefined} message={state.message} />;
  }
  return <>{children(state.data)}</>;
}
