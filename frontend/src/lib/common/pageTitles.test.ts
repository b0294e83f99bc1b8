import { describe, expect, it } from "vitest";
import cases from "./pageTitleCases.json";
import { documentTitle, pageTitle } from "./pageTitles";

describe("page titles shared with the server's link previews (pageTitleCases.json)", () => {
  it.each(cases)("$page $args → $document", ({ page, args, title, document }) => {
    const name = (pageTitle[page as keyof typeof pageTitle] as (...a: unknown[]) => string)(...args);
    expect(name).toBe(title);
    expect(documentTitle(name)).toBe(document);
  });

  it("covers every page", () => {
    expect(new Set(cases.map((c) => c.page))).toEqual(new Set(Object.keys(pageTitle)));
  });
});
