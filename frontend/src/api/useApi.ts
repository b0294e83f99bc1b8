/** Loads one API resource for a component, with loading and error states and abort on change. */
import { type DependencyList, useEffect, useState } from "react";
import { apiErrorMessage } from "./errors";

export interface ApiResult<T> {
  data?: T;
  error?: unknown;
  response: Response;
}

export type Loadable<T> =
  | { status: "loading" }
  | { status: "error"; message: string; httpStatus?: number | undefined }
  | { status: "ok"; data: T };

export function useApi<T>(load: (signal: AbortSignal) => Promise<ApiResult<T>>, deps: DependencyList): Loadable<T> {
  const [state, setState] = useState<Loadable<T>>({ status: "loading" });
  useEffect(() => {
    const controller = new AbortController();
    setState({ status: "loading" });
    load(controller.signal).then(
      ({ data, error, response }) => {
        if (controller.signal.aborted) return;
        if (data !== undefined && response.ok) setState({ status: "ok", data });
        else setState({ status: "error", message: apiErrorMessage(error, response.status), httpStatus: response.status });
      },
      () => {
        if (!controller.signal.aborted) setState({ status: "error", message: apiErrorMessage(undefined) });
      },
    );
    return () => controller.abort();
    // The caller lists what `load` depends on, as with useEffect.
  }, deps);
  return state;
}
