/**
 * API reads through TanStack Query: one query per GET of the generated client, keyed by the API path
 * and its parameters (so every component asking for the same resource shares one request and one
 * cache entry), and their state as a `Loadable` for the loading and error states of the pages.
 */
import { queryOptions, useQuery, type UseQueryOptions, type UseQueryResult } from "@tanstack/react-query";
import type { ClientPathsWithMethod, MaybeOptionalInit, MethodResponse } from "openapi-fetch";
import { api } from "./client";
import { apiErrorMessage } from "./errors";
import type { paths } from "./schema";

export type GetPath = ClientPathsWithMethod<typeof api, "get">;
/** The parameters of a GET (`{ path, query }`), as the generated client takes them. */
export type GetParams<P extends GetPath> = NonNullable<MaybeOptionalInit<paths[P], "get">>["params"];
/** What a successful GET answers. */
export type GetData<P extends GetPath> = MethodResponse<typeof api, "get", P>;

export type Loadable<T> =
  /** `retryAt` (ms since the epoch): the server was busy and the request is tried again then. */
  | { status: "loading"; retryAt?: number | undefined }
  | { status: "error"; message: string; httpStatus?: number | undefined }
  | { status: "ok"; data: T };

/**
 * A failed request: the message shown to the user (see errors.ts), the HTTP status, if any, and for a
 * server too busy to answer now (503 with `Retry-After`, e.g. a full analysis queue) the seconds to wait.
 */
export class ApiError extends Error {
  readonly httpStatus: number | undefined;
  readonly retryAfterS: number | undefined;
  /** When the answer came (ms since the epoch), from which `retryAfterS` counts. */
  readonly receivedAt: number;

  constructor(message: string, httpStatus?: number, retryAfterS?: number) {
    super(message);
    this.name = "ApiError";
    this.httpStatus = httpStatus;
    this.retryAfterS = retryAfterS;
    this.receivedAt = Date.now();
  }

  /** The server asked to try again later: worth retrying by itself. */
  get busy(): boolean {
    return this.httpStatus === 503 && this.retryAfterS !== undefined;
  }
}

/** `Retry-After` in seconds (the API sends seconds, never a date); undefined when absent or not a number. */
function retryAfterSeconds(response: Response): number | undefined {
  const value = response.headers.get("Retry-After");
  const seconds = value === null || value.trim() === "" ? NaN : Number(value);
  return Number.isFinite(seconds) && seconds >= 0 ? seconds : undefined;
}

/** The data of a client call, or an `ApiError` (also for a network failure). */
export async function unwrap<T>(request: Promise<{ data?: T; error?: unknown; response: Response }>): Promise<T> {
  let result: { data?: T; error?: unknown; response: Response };
  try {
    result = await request;
  } catch {
    throw new ApiError(apiErrorMessage(undefined));
  }
  const { data, error, response } = result;
  if (data !== undefined && response.ok) return data;
  throw new ApiError(apiErrorMessage(error, response.status), response.status, retryAfterSeconds(response));
}

type ApiQueryArgs<P extends GetPath> =
  undefined extends GetParams<P> ? [params?: GetParams<P>] : [params: GetParams<P>];

/** `GET path` with `params` through the generated client: its data, or an `ApiError`. */
export function apiGet<P extends GetPath>(path: P, params: GetParams<P> | undefined, signal: AbortSignal) {
  // The client's overloads cannot follow a generic path: call it as what it is for `P`.
  const get = api.GET as (
    path: P,
    init: { params?: GetParams<P>; signal: AbortSignal },
  ) => Promise<{
    data?: GetData<P>;
    error?: unknown;
    response: Response;
  }>;
  return unwrap(get(path, params === undefined ? { signal } : { params, signal }));
}

/** The query of `GET path` with `params`, keyed `[path, params]`. */
export function apiQuery<P extends GetPath>(path: P, ...[params]: ApiQueryArgs<P>) {
  return queryOptions<GetData<P>, ApiError, GetData<P>, readonly [P, GetParams<P> | undefined]>({
    // The key and the request are made of the same `path` and `params`.
    queryKey: [path, params] as const,
    queryFn: ({ signal }) => apiGet(path, params, signal),
  });
}

/** A query's state as a `Loadable`. */
export function toLoadable<T>(result: UseQueryResult<T, Error>): Loadable<T> {
  if (result.isPending) {
    // Retrying after a busy answer (queryClient.ts): when the next try is due (kept while it is made).
    const reason = result.failureReason;
    if (reason instanceof ApiError && reason.busy) {
      return { status: "loading", retryAt: reason.receivedAt + (reason.retryAfterS ?? 0) * 1000 };
    }
    return { status: "loading" };
  }
  if (result.isError) {
    const { error } = result;
    return error instanceof ApiError
      ? { status: "error", message: error.message, httpStatus: error.httpStatus }
      : { status: "error", message: apiErrorMessage(undefined) };
  }
  return { status: "ok", data: result.data };
}

/** Runs `options` (e.g. from `apiQuery`) and returns its state as a `Loadable`. */
export function useLoadable<T, K extends readonly unknown[]>(options: UseQueryOptions<T, ApiError, T, K>): Loadable<T> {
  return toLoadable(useQuery(options));
}

/** Every query's data once all have loaded, or the first failure (in order) once none is loading. */
export function allLoaded<T>(results: UseQueryResult<T, Error>[]): Loadable<T[]> {
  const states = results.map(toLoadable);
  const data: T[] = [];
  for (const state of states) {
    if (state.status === "loading") return state;
    if (state.status === "ok") data.push(state.data);
  }
  const failed = states.find((s): s is Extract<Loadable<T>, { status: "error" }> => s.status === "error");
  return failed ?? { status: "ok", data };
}
