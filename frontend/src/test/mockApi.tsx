/** A fake `fetch` answering API paths from a table, and rendering the app at a URL. */
import { QueryClientProvider } from "@tanstack/react-query";
import { act, fireEvent, render, screen } from "@testing-library/react";
import { MemoryRouter, useLocation, useNavigate } from "react-router";
import { vi } from "vitest";
import { AppRoutes } from "../App";
import { createQueryClient } from "../api/queryClient";

type Answer = { status?: number; body: unknown; headers?: Record<string, string> };
/** A fixed answer, or one computed from the request (possibly later: a promise answers when it settles). */
export type Route = Answer | ((request: Request) => Answer | Promise<Answer>);

export function mockApi(routes: Record<string, Route>) {
  const fetchMock = vi.fn(async (input: Request | string) => {
    const request = typeof input === "string" ? new Request(input) : input;
    const url = new URL(request.url);
    const key = `${request.method} ${url.pathname}`;
    const route = routes[key] ?? routes[url.pathname];
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
