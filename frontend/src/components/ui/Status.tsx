/** Loading, error and empty states, announced to assistive technology. */
import { useEffect, useState, type ReactNode } from "react";
import type { Loadable } from "../../api/queries";

/** Whole seconds until `at` (ms since the epoch), at least 0, counting down. */
function useSecondsUntil(at: number | undefined): number | undefined {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    if (at === undefined) return;
    // A few ticks a second, so the count starts right however long ago this state mounted.
    const timer = setInterval(() => setNow(Date.now()), 250);
    const first = setTimeout(() => setNow(Date.now()), 0);
    return () => {
      clearInterval(timer);
      clearTimeout(first);
    };
  }, [at]);
  return at === undefined ? undefined : Math.max(0, Math.ceil((at - now) / 1000));
}

/** The loading state; with `retryAt`, the server was busy and the request is tried again then. */
export function Loading({ label = "Loading…", retryAt }: { label?: string | undefined; retryAt?: number | undefined }) {
  const seconds = useSecondsUntil(retryAt);
  return (
    <div className="status status-loading" role="status" aria-live="polite">
      <span className="spinner" aria-hidden="true" />
      {seconds === undefined ? label : seconds > 0 ? `Busy: retrying in ${seconds} s` : "Busy: retrying now…"}
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
  if (state.status === "loading") return <Loading label={label} retryAt={state.retryAt} />;
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
