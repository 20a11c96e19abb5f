/** The file names of a report directory (`serflow sim`, `serflow bench`), shared by the writer and the summary page. */

/** The files of a report directory, in the order `writeReportDir` writes (and returns) them. */
export const REPORT_FILES = {
  report: 'report.json',
  series: 'series.json',
  costOverTime: 'cost-over-time.svg',
  vmsPerStage: 'vms-per-stage.svg',
  latencyCdf: 'latency-cdf.svg',
  arrivals: 'arrivals.svg',
  markdown: 'index.md',
  html: 'index.html',
} as const;
