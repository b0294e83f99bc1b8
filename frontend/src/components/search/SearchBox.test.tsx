import { fireEvent, screen, waitFor, within } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import { modelSummary, searchResults } from "../../test/fixtures";
import { currentUrl, mockApi, renderAt } from "../../test/mockApi";

function searchApi() {
  const fetchMock = mockApi({
    "/api/models": { body: [modelSummary()] },
    "/api/search": (request) => ({ body: searchResults({ query: new URL(request.url).searchParams.get("q") ?? "" }) }),
    "/api/classes/red%20square": {
      body: { label: "red square", basis: null, models: [], missing_statistics: [], without_class: [] },
    },
  });
  const searches = () =>
    fetchMock.mock.calls
      .map(([r]) => new URL((r as Request).url))
      .filter((u) => u.pathname === "/api/search")
      .map((u) => u.searchParams.get("q"));
  return { searches };
}

const box = () => screen.getByRole("combobox", { name: "Search models, modes and classes" });

/** Types `text` one character at a time, as fast as a test can. */
function type(text: string) {
  for (let i = 1; i <= text.length; i++) fireEvent.change(box(), { target: { value: text.slice(0, i) } });
}

describe("search box", () => {
  it("asks once after typing stops, and lists names, classes and class modes", async () => {
    const { searches } = searchApi();
    renderAt("/nowhere");
    type("red");
    const listbox = await screen.findByRole("listbox", { name: "Search results" });
    await within(listbox).findByRole("option", { name: /planted-vit L1 H2 M3/ });
    expect(searches()).toEqual(["red"]);
    expect(box().getAttribute("aria-expanded")).toBe("true");
    expect(within(listbox).getByRole("group", { name: "Models, heads and modes" })).toBeTruthy();
    const classes = within(listbox).getByRole("group", { name: "Classes" });
    expect(within(classes).getByRole("option", { name: /red square/ })).toBeTruthy();
    const modes = within(listbox).getByRole("group", { name: "Modes for the class" });
    const options = within(modes).getAllByRole("option");
    expect(options.map((o) => o.querySelector(".search-option-label")?.textContent)).toEqual([
      "planted-vit L0 H1 M2 pos",
      "planted-vit L1 H0 M0 neg",
    ]);
    // Each class mode with its best image.
    expect(options[0]!.querySelector("img")?.getAttribute("src")).toBe("/api/images/planted__shapes~0");
    expect(within(listbox).getByRole("option", { name: "All results for “red”" })).toBeTruthy();
  });

  it("arrow keys move through the options and Enter opens the highlighted one", async () => {
    searchApi();
    renderAt("/nowhere");
    type("red");
    await screen.findByRole("option", { name: /planted-vit L1 H2 M3/ });
    const options = screen.getAllByRole("option");
    const highlighted = () => box().getAttribute("aria-activedescendant");
    expect(highlighted()).toBeNull();
    fireEvent.keyDown(box(), { key: "ArrowDown" });
    expect(highlighted()).toBe(options[0]!.id);
    expect(options[0]!.getAttribute("aria-selected")).toBe("true");
    fireEvent.keyDown(box(), { key: "ArrowDown" });
    fireEvent.keyDown(box(), { key: "ArrowDown" });
    expect(highlighted()).toBe(options[2]!.id);
    fireEvent.keyDown(box(), { key: "ArrowUp" });
    expect(highlighted()).toBe(options[1]!.id);
    expect(options[0]!.getAttribute("aria-selected")).toBe("false");
    // ↑ from the first wraps to the last.
    fireEvent.keyDown(box(), { key: "ArrowUp" });
    fireEvent.keyDown(box(), { key: "ArrowUp" });
    expect(highlighted()).toBe(options.at(-1)!.id);
    fireEvent.keyDown(box(), { key: "ArrowDown" });
    fireEvent.keyDown(box(), { key: "ArrowDown" });
    fireEvent.keyDown(box(), { key: "ArrowDown" });
    expect(highlighted()).toBe(options[2]!.id); // the first mode for the class
    fireEvent.keyDown(box(), { key: "Enter" });
    await waitFor(() => expect(currentUrl()).toBe("/m/planted__shapes/L0/H1/M2?sign=pos&basis=faithful"));
    expect((box() as HTMLInputElement).value).toBe("");
    expect(box().getAttribute("aria-expanded")).toBe("false");
  });

  it("a name leads to its page; a class to the class page", async () => {
    searchApi();
    renderAt("/nowhere");
    type("red");
    fireEvent.click(await screen.findByRole("option", { name: /planted-vit L1 H2 M3/ }));
    await waitFor(() => expect(currentUrl()).toBe("/m/planted__shapes/L1/H2/M3?sign=pos&basis=faithful"));
    type("red");
    fireEvent.click(await screen.findByRole("option", { name: /^red square/ }));
    await waitFor(() => expect(currentUrl()).toBe("/classes/red%20square"));
  });

  it("Enter with nothing highlighted opens the full results; Escape closes, then clears", async () => {
    searchApi();
    renderAt("/nowhere");
    type("red");
    await screen.findByRole("option", { name: /planted-vit L1 H2 M3/ });
    fireEvent.keyDown(box(), { key: "Escape" });
    expect(box().getAttribute("aria-expanded")).toBe("false");
    expect((box() as HTMLInputElement).value).toBe("red");
    fireEvent.keyDown(box(), { key: "Escape" });
    expect((box() as HTMLInputElement).value).toBe("");
    type("red");
    fireEvent.keyDown(box(), { key: "Enter" });
    await waitFor(() => expect(currentUrl()).toBe("/search?q=red"));
  });

  it("“/” focuses the box, except while typing elsewhere", async () => {
    searchApi();
    renderAt("/nowhere");
    fireEvent.keyDown(document.body, { key: "/" });
    expect(document.activeElement).toBe(box());
    box().blur();
    const other = document.createElement("input");
    document.body.append(other);
    other.focus();
    fireEvent.keyDown(other, { key: "/" });
    expect(document.activeElement).toBe(other);
    other.remove();
  });
});
