/** Loading, error and empty states, announced to assistive technology. */
import type { ReactNode } from "react";
import type { Loadable } from "../api/queries";

export function Loading({ label = "Loading…" }: { label?: string }) {
  return (
    <div className="status status-loading" role="status" aria-live="polite">
      <span className="spinner" aria-hidden="true" />
      {label}
    </div>
  );
}

export function ErrorNotice({
  message,
  title = "Something went wrong",
}: {
  message: string;
  title?: string | undefined;
}) {
  return (
    <div className="status status-error" role="alert">
      <strong>{title}.</strong> {message}
    </div>
  );
}

export function Empty({ children }: { children: ReactNode }) {
  return <div className="status status-empty">{children}</div>;
}

/**
 * Renders `children(data)` once loaded; otherwise the loading or error state. A page's main load
 * passes `pageTitle`, so that a failed page still has its heading.
 */
export function Loaded<T>({
  state,
  label,
  pageTitle,
  children,
}: {
  state: Loadable<T>;
  label?: string;
  pageTitle?: string;
  children: (data: T) => ReactNode;
}) {
  if (state.status === "loading") return <Loading label={label} />;
  if (state.status === "error") {
    return (
      <>
        {pageTitle ? <h1>{pageTitle}</h1> : null}
        <ErrorNotice title={state.httpStatus === 404 ? "Not found" : undefined} message={state.message} />
      </>
    );
  }
  return <>{children(state.data)}</>;
}
