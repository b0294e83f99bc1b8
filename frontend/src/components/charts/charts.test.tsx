import { render, screen, within } from "@testing-library/react";
import type { ReactElement } from "react";
import { describe, expect, it } from "vitest";
import { depthSeries } from "../../lib/charts/depthSeries";
import { o3QuerySeries } from "../../lib/charts/o3Series";
import { downloadCsv } from "../../test/downloads";
import { modeDetail, modelDetail, o3Result } from "../../test/fixtures";
import { seriesColor } from "../../lib/charts/color";
import { ChartLegend } from "./ChartLegend";
import { bandLegend, DepthChart, DepthLegend, type DepthSeries, randomBands } from "./DepthChart";
import { ModeSpectrumChart, spectrumLegend } from "./ModeSpectrumChart";
import { ScoreDistributionChart } from "./ScoreDistributionChart";
import { SpectrumChart } from "./SpectrumChart";

const CHARTS: [string, ReactElement][] = [
  [
    "cosine",
    <DepthChart
      title="cosine"
      yLabel="weighted cosine"
      seriesColumn="model"
      fileName={["all-models", "weighted-cosine-depth"]}
      series={[
        {
          id: "a",
          label: "model/a",
          baseline: 0.28,
          points: [
            { layer: 0, depth: 0, value: 0.5 },
            { layer: 1, depth: 1, value: 0.1 },
          ],
        },
      ]}
    />,
  ],
  [
    "spectra",
    <SpectrumChart
      title="spectra"
      fileName={["m", "spectra"]}
      lines={[{ label: "L0", values: [2, 1], color: "red" }]}
    />,
  ],
  [
    "modes",
    <ModeSpectrumChart
      title="modes"
      fileName={["m", "modes"]}
      modes={[{ mode: 0, sigma: 2, cos: 0.5, degenerate: false, active: true }]}
    />,
  ],
  [
    "distribution",
    <ScoreDistributionChart
      title="distribution"
      name="L1 H2 M1 pos"
      fileName={["m", "distribution"]}
      distribution={modeDetail().distribution!}
      top={[{ rank: 0, score: 9 }]}
    />,
  ],
];

describe("chart downloads", () => {
  it.each(CHARTS)("the %s chart has the PNG and CSV buttons", (title, chart) => {
    render(chart);
    const group = screen.getByRole("group", { name: `Download “${title}”` });
    expect(within(group).getByRole("button", { name: "Download PNG" })).toBeTruthy();
    expect(within(group).getByRole("button", { name: "Download CSV" })).toBeTruthy();
  });

  it("the cosine CSV has the drawn points, the model and the baseline", async () => {
    render(CHARTS[0]![1]);
    const { name, text } = await downloadCsv("cosine");
    expect(name).toBe("qkatlas-all-models-weighted-cosine-depth.csv");
    expect(text.split("\r\n")).toEqual([
      "model,layer,normalized depth,weighted cosine,random baseline ±",
      "model/a,0,0,0.5,0.28",
      "model/a,1,1,0.1,0.28",
      "",
    ]);
  });

  it("the odd-one-out CSV has every share of every layer with the model, query and uniform level", async () => {
    const result = o3Result();
    render(
      <DepthChart
        title="target"
        yLabel="share of attention"
        seriesColumn="share"
        fileName={["planted__shapes", "o3", "target-query"]}
        context={{ model: "planted-vit", query: "target query" }}
        yDomain={[0, 1]}
        series={o3QuerySeries(result, "target_query")}
      />,
    );
    const { name, text } = await downloadCsv("target");
    expect(name).toBe("qkatlas-planted__shapes-o3-target-query.csv");
    const [header, ...rows] = text.trim().split("\r\n");
    expect(header).toBe("model,query,share,layer,normalized depth,share of attention,uniform attention");
    expect(rows).toHaveLength(6);
    expect(rows[0]).toBe("planted-vit,target query,same object,0,0,0.6,0.1");
    expect(rows[3]).toBe("planted-vit,target query,different object,1,1,0.5,0.25");
  });

  it("the mode spectrum CSV keeps raw values and the degenerate and active flags", async () => {
    render(CHARTS[2]![1]);
    const { text } = await downloadCsv("modes");
    expect(text).toBe("mode,σ,cos u·v,degenerate,active\r\n0,2,0.5,false,true\r\n");
  });
});

describe("inactive heads and modes in charts", () => {
  it("a layer without an active head is a gap in the cosine curve, not a 0", async () => {
    const detail = modelDetail();
    const layers = [detail.layers[0]!, { ...detail.layers[1]!, weighted_cos: null, weighted_cos_scaled: null }];
    const series = depthSeries({ ...detail, layers, label: "model/a" }, "weighted");
    expect(series.points.map((p) => p.value)).toEqual([0.5, null]);
    render(
      <DepthChart title="gap" yLabel="weighted cosine" seriesColumn="model" fileName={["gap"]} series={[series]} />,
    );
    expect(screen.getByRole("img", { name: /A gap is a layer without a value \(no active head\)/ })).toBeTruthy();
    const { text } = await downloadCsv("gap");
    expect(text.split("\r\n").slice(1, 3)).toEqual(["model/a,0,0,0.5,0.49", "model/a,1,1,,0.49"]);
  });

  it("an inactive mode has no cosine in the mode spectrum", async () => {
    render(
      <ModeSpectrumChart
        title="partly inactive"
        fileName={["m", "modes"]}
        modes={[
          { mode: 0, sigma: 2, cos: 0.5, degenerate: false, active: true },
          { mode: 1, sigma: 0, cos: 0, degenerate: false, active: false },
        ]}
      />,
    );
    expect(screen.getByRole("img", { name: /1 inactive \(σ = 0\), without a cosine/ })).toBeTruthy();
    const { text } = await downloadCsv("partly inactive");
    expect(text).toBe("mode,σ,cos u·v,degenerate,active\r\n0,2,0.5,false,true\r\n1,0,,false,false\r\n");
  });
});

describe("the random bands", () => {
  const line = (label: string, baseline?: number): DepthSeries => ({ id: label, label, baseline, points: [] });

  it("draws one neutral band, named with its half-width, when every series shares it", () => {
    const bands = randomBands([line("a", 0.0866), line("b", 0.0866)]);
    expect(bands).toEqual([{ halfWidth: 0.0866, labels: ["a", "b"], colour: null }]);
    expect(bandLegend(bands[0]!, bands.length)).toBe("random directions, 95 % (±1.96/√d): ±0.087");
  });

  it("gives each model's band its line's colour and name, widest first; models of one width share one", () => {
    // d = 512 and d = 768: 1.96/√512 ≈ 0.0866, 1.96/√768 ≈ 0.0707 (3 significant digits shown).
    const small = 1.96 / Math.sqrt(512);
    const base = 1.96 / Math.sqrt(768);
    const bands = randomBands([line("B/16", base), line("small", small), line("L/14", base)]);
    expect(bands).toEqual([
      { halfWidth: small, labels: ["small"], colour: seriesColor(1) },
      { halfWidth: base, labels: ["B/16", "L/14"], colour: null },
    ]);
    expect(bands.map((b) => bandLegend(b, bands.length))).toEqual([
      "random directions, 95 % (±1.96/√d), small: ±0.087",
      "random directions, 95 % (±1.96/√d), B/16, L/14: ±0.071",
    ]);
  });

  it("names each band in the chart's legend, in its model's colour", () => {
    const series = [line("model a", 0.2), line("model b", 0.1)];
    const { container } = render(<DepthLegend series={series} bands={randomBands(series)} />);
    const items = [...container.querySelectorAll(".depth-legend-band")];
    expect(items.map((i) => i.textContent)).toEqual([
      "random directions, 95 % (±1.96/√d), model a: ±0.200",
      "random directions, 95 % (±1.96/√d), model b: ±0.100",
    ]);
    expect(items.map((i) => i.querySelector("path")?.getAttribute("fill"))).toEqual([seriesColor(0), seriesColor(1)]);
  });

  it("is absent from a chart without a band", () => {
    expect(randomBands([line("share")])).toEqual([]);
  });
});

describe("the mode spectrum's legend", () => {
  it("names the σ bars, the selected mode's bar and the cosine line with its axis", () => {
    const modes = [
      { mode: 0, sigma: 2, cos: 0.5, degenerate: false, active: true },
      { mode: 1, sigma: 1, cos: -0.2, degenerate: true, active: true },
    ];
    const { container } = render(<ChartLegend items={spectrumLegend(modes, 0)} />);
    const legend = [...container.querySelectorAll(".recharts-legend-item-text")].map((e) => e.textContent);
    expect(legend).toEqual([
      "σ (bars, left axis)",
      "degenerate (σ ≈ a neighbour's)",
      "this mode",
      "cos u·v (line, right axis)",
    ]);
    expect(container.querySelector("line")?.getAttribute("class")).toBe("line-cos-swatch");
    expect(spectrumLegend([modes[0]!]).map((i) => i.label)).toEqual([
      "σ (bars, left axis)",
      "cos u·v (line, right axis)",
    ]);
  });
});
