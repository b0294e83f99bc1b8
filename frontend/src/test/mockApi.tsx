/** A fake `fetch` answering API paths from a table, and rendering the app at a URL. */
import { QueryClientProvider } from "@tanstack/react-query";
import { act, fireEvent, render, screen } from "@testing-library/react";
import { MemoryRouter, useLocation, useNavigate } from "react-router";
import { vi } from "vitest";
import { AppRoutes } from "../App";
import { createQueryClient } from "../api/queryClient";
import type { paths } from "../api/schema";

type ApiPath = keyof paths & string;
type HttpMethod = "get" | "put" | "post" | "delete" | "options" | "head" | "patch" | "trace";
/** The methods the schema gives `Path` (`paths` lists every method, those without an operation as `never`). */
type MethodOf<Path extends ApiPath> = {
  [M in HttpMethod]: paths[Path][M] extends undefined ? never : Uppercase<M>;
}[HttpMethod];

type Segments<S extends string> = S extends `${infer First}/${infer Rest}` ? [First, ...Segments<Rest>] : [S];
/** Whether a request path's segments fit a path template's: a `{parameter}` takes any one segment. */
type Fits<Actual extends string[], Template extends string[]> = Actual extends [
  infer A extends string,
  ...infer ARest extends string[],
]
  ? Template extends [infer T extends string, ...infer TRest extends string[]]
    ? T extends `{${string}}`
      ? Fits<ARest, TRest>
      : A extends T
        ? Fits<ARest, TRest>
        : false
    : false
  : Template extends []
    ? true
    : false;
/** The templates of the schema's `paths` that the request path `Path` fits, with their methods. */
type RoutesOf<Path extends string> = {
  [Template in ApiPath]: Fits<Segments<Path>, Segments<Template>> extends true ? MethodOf<Template> : never;
}[ApiPath];
/**
 * A mock's key, checked against the generated schema's `paths`: a request path that fits one of them
 * (any method), or a method it has and that path (`"POST /api/uploads"`); anything else is `never`,
 * so a route renamed or removed in the API fails the type check.
 */
export type RouteKey<Key extends string> = Key extends `${infer Method extends Uppercase<HttpMethod>} ${infer Path}`
  ? Method extends RoutesOf<Path>
    ? Key
    : never
  : [RoutesOf<Key>] extends [never]
    ? never
    : Key;

type Answer = { status?: number; body: unknown; headers?: Record<string, string> };
/** A fixed answer, or one computed from the request (possibly later: a promise answers when it settles). */
export type Route = Answer | ((request: Request) => Answer | Promise<Answer>);

export function mockApi<const Keys extends string>(routes: {
  [Key in Keys]: Key extends RouteKey<Key> ? Route : never;
}) {
  const fetchMock = vi.fn(async (input: Request | string) => {
    const request = typeof input === "string" ? new Request(input) : input;
    const url = new URL(request.url);
    const key = `${request.method} ${url.pathname}`;
    const table: Partial<Record<string, Route>> = routes;
    const route = table[key] ?? table[url.pathname];
    const answer = typeof route === "function" ? await route(request) : route;
    if (!answer) return Response.json({ detail: `no mock for ${key}` }, { status: 404 });
    return Response.json(answer.body, { status: answer.status ?? 200, headers: answer.headers ?? {} });
  });
  vi.stubGlobal("fetch", fetchMock);
  return fetchMock;
}

/** The app at `url`, with a QueryClient of its own (nothing cached from another test). */
export function renderAt(url: string) {
  // No garbage collection timers: the cache goes with the test.
  const queryClient = createQueryClient({ defaultOptions: { queries: { gcTime: Infinity } } });
  return render(
    <QueryClientProvider client={queryClient}>
      <MemoryRouter initialEntries={[url]}>
        <AppRoutes />
        <LocationProbe />
      </MemoryRouter>
    </QueryClientProvider>,
  );
}

/** The router's location, and its history's back and forward, for tests of URL state. */
function LocationProbe() {
  const location = useLocation();
  const navigate = useNavigate();
  return (
    <div hidden data-testid="location" data-url={`${location.pathname}${location.search}`}>
      <button type="button" onClick={() => void navigate(-1)}>
        back
      </button>
      <button type="button" onClick={() => void navigate(1)}>
        forward
      </button>
    </div>
  );
}

/** The URL the app shows (path and query). */
export function currentUrl(): string {
  return screen.getByTestId("location").dataset.url ?? "";
}

/** The browser's back (-1) or forward (1) button. */
export function history(step: -1 | 1) {
  const [back, forward] = screen.getByTestId("location").querySelectorAll("button");
  act(() => {
    fireEvent.click((step === -1 ? back : forward)!);
  });
}
