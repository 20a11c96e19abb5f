/**
 * Writes a comparison report directory (`serflow sim`, `serflow bench`): the figures and series as JSON
 * (`report.json`, `series.json`, see ./types.ts), four SVG plots readable without the JSON, and a summary page
 * (`index.md`, `index.html`) that ties them together.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { REPORT_FILES } from './files';
import { toHtml } from './html';
import { toMarkdown } from './markdown';
import { plotContext } from './plot-context';
import { arrivalsSpec, costOverTimeSpec, latencyCdfSpec, vmsPerStageSpec } from './plots';
import { summaryDocument, summaryTitle } from './summary';
import type { ComparisonReport, ComparisonSeries } from './types';
import { renderSvg } from './vega';

/**
 * Writes `report.json`, `series.json`, the four plots and `index.md` / `index.html` into `dir` (created if missing).
 * Returns the written paths, in the order of `REPORT_FILES`.
 */
export async function writeReportDir(
  dir: string,
  report: ComparisonReport,
  series: ComparisonSeries,
): Promise<string[]> {
  await mkdir(dir, { recursive: true });
  const ctx = plotContext(report, series);
  const svgs = await Promise.all([
    renderSvg(costOverTimeSpec(ctx)),
    renderSvg(vmsPerStageSpec(ctx)),
    renderSvg(latencyCdfSpec(ctx)),
    renderSvg(arrivalsSpec(ctx)),
  ]);
  const doc = summaryDocument(report);
  const files: Array<[string, string]> = [
    [REPORT_FILES.report, JSON.stringify(report, null, 2) + '\n'],
    // compact: the series run to thousands of numbers, one a line when indented
    [REPORT_FILES.series, JSON.stringify(series) + '\n'],
    [REPORT_FILES.costOverTime, svgs[0]],
    [REPORT_FILES.vmsPerStage, svgs[1]],
    [REPORT_FILES.latencyCdf, svgs[2]],
    [REPORT_FILES.arrivals, svgs[3]],
    [REPORT_FILES.markdown, toMarkdown(doc)],
    [REPORT_FILES.html, toHtml(doc, summaryTitle(report))],
  ];
  return writeReportFiles(dir, files);
}

/** Write each `[name, text]` into `dir` (which exists); the paths written, in order. */
export async function writeReportFiles(
  dir: string,
  files: ReadonlyArray<readonly [string, string]>,
): Promise<string[]> {
  const written: string[] = [];
  for (const [name, text] of files) {
    const file = path.join(dir, name);
    await writeFile(file, text, 'utf8');
    written.push(file);
  }
  return written;
}
