/**
 * The report writer's public surface (`serflow sim`, `serflow bench`): write a report directory, and the number
 * formatting the CLI's tables share with it. The work is done by the modules beside this one:
 *   write.ts         the directory: report.json, series.json, four plots, index.md / index.html
 *   files.ts         the file names of a report directory
 *   plot-context.ts  what every plot needs (policies, colours, time axis) and the encodings they share
 *   plots.ts         the four plots as Vega-Lite specs
 *   chart-style.ts   sizes, policy colours, fonts and log-axis decades of every chart (the benchmark charts too)
 *   vega.ts          Vega-Lite spec → SVG, the one chart renderer
 *   downsample.ts    at most a few points per pixel, spikes kept
 *   summary.ts       the summary page as one document (document.ts), rendered by markdown.ts and html.ts, and
 *                    the orchestration pricing in words (the CLI's tables say it too)
 *   format.ts        numbers, money, shares, durations
 *   figures.ts       the series' time step, shared by the simulated and the live run
 *   text-table.ts    aligned plain-text tables (the CLI and the benchmarks)
 */
export { REPORT_FILES } from './files';
export { downsampleIndices, MAX_POINTS_PER_LINE } from './downsample';
export { formatNumber, formatPercent, formatUsd } from './format';
export { escapeHtml } from './html';
export { orchestrationText } from './summary';
export { writeReportDir } from './write';
