/**
 * Renders a Vega-Lite spec to SVG on the server (`renderer: 'none'`, no canvas): the one renderer of every chart
 * of the project (the report's plots, the benchmark charts).
 *
 * Vega 6 and Vega-Lite 6 are ESM-only, and `require()` of them fails even on Node ≥ 20.19 (which can `require()` ESM):
 * vega-canvas holds a top-level `await import('canvas')`, and Node refuses to `require()` an ESM graph with a top-level
 * await (ERR_REQUIRE_ASYNC_MODULE). A real dynamic `import()` is needed, but tsc (`module: commonjs`) rewrites
 * `import()` into `require()`, so `importEsm` below hides the `import()` in a Function body that tsc does not see.
 * Only the types are imported statically (`import type`, erased). Vega-Lite's types are reached through
 * `vega-lite/build/index` because `moduleResolution: node` ignores the package's `exports` map.
 */
import { pathToFileURL } from 'node:url';
import type * as Vega from 'vega';
import type * as VegaLite from 'vega-lite/build/index';
import type { TopLevelSpec } from 'vega-lite/build/index';

interface PlotLibraries {
  vega: typeof Vega;
  vegaLite: typeof VegaLite;
}

/**
 * Node's own `import()`. tsc (module: commonjs) compiles `import(x)` to `require(x)`, which cannot load Vega (see the
 * file comment); code in a Function body is not compiled, so this stays a real dynamic import.
 */
// eslint-disable-next-line @typescript-eslint/no-implied-eval -- a constant body, not eval of data (see above)
const importEsm = new Function('specifier', 'return import(specifier)') as (specifier: string) => Promise<unknown>;

/** The package's entry as a file URL, resolved from this module like a `require` of it, so the cwd does not matter. */
function entryUrl(name: string): string {
  return pathToFileURL(require.resolve(name)).href;
}

let libraries: Promise<PlotLibraries> | undefined;

/** Loads Vega and Vega-Lite once per process (~150 ms). */
function loadPlotLibraries(): Promise<PlotLibraries> {
  libraries ??= Promise.all([importEsm(entryUrl('vega')), importEsm(entryUrl('vega-lite'))]).then(
    ([vega, vegaLite]) => ({ vega: vega as typeof Vega, vegaLite: vegaLite as typeof VegaLite }),
    (err: unknown) => {
      libraries = undefined;
      throw new Error('cannot load the plotting libraries vega and vega-lite', { cause: err });
    },
  );
  return libraries;
}

/** Compiles a Vega-Lite spec and renders it to an SVG document (a string starting with `<svg`). */
export async function renderSvg(spec: TopLevelSpec): Promise<string> {
  const { vega, vegaLite } = await loadPlotLibraries();
  const view = new vega.View(vega.parse(vegaLite.compile(spec).spec), { renderer: 'none' });
  try {
    return (await view.toSVG()) + '\n';
  } finally {
    view.finalize();
  }
}
