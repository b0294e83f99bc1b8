import { act, fireEvent, screen, within } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import { headDetail, modelSummary } from "../../test/fixtures";
import { mockApi, renderAt } from "../../test/mockApi";

describe("shortcut sheet", () => {
  it("? lists the page's keys and the global ones; closing returns the focus", async () => {
    mockApi({
      "/api/models": { body: [modelSummary()] },
      "/api/models/planted__shapes/layers/0/heads/1": { body: headDetail() },
    });
    renderAt("/m/planted__shapes/L0/H1");
    await screen.findByRole("heading", { level: 1, name: /Head L0 H1/ });
    const link = screen.getAllByRole("link", { name: /L0 H0/ })[0]!;
    link.focus();

    fireEvent.keyDown(link, { key: "?", shiftKey: true });
    const sheet = await screen.findByRole("dialog", { name: "Keys on this page" });
    const rows = within(sheet)
      .getAllByRole("row")
      .slice(1)
      .map((row) => row.textContent);
    expect(rows).toEqual([
      "← or kprevious head",
      "→ or jnext head",
      "/focus the search box",
      "?show this list of keys",
    ]);

    act(() => {
      (sheet as HTMLDialogElement).close();
    });
    expect(screen.queryByRole("heading", { name: "Keys on this page" })).toBeNull();
    expect(document.activeElement).toBe(link);
  });

  it("? in a text field is typed, not a shortcut", async () => {
    mockApi({ "/api/models": { body: [modelSummary()] } });
    renderAt("/");
    const box = await screen.findByRole("combobox");
    fireEvent.keyDown(box, { key: "?", shiftKey: true });
    expect(screen.queryByRole("heading", { name: "Keys on this page" })).toBeNull();
  });
});
