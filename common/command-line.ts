/** Environment variables that change what a command computes (common/config.ts reads them): part of its line. */
const CONFIG_ENV = ['SERFLOW_CONFIG', 'SERFLOW_CONFIG_JSON'] as const;

/**
 * The command line that produced a result file, as typed, quoted where a shell would need it, preceded by the
 * configuration variables set in `env` (a run with `SERFLOW_CONFIG_JSON='{"prices":…}'` is not the default run).
 */
export function commandLine(
  program: string,
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>> = process.env,
): string {
  const quote = (a: string) => (/^[\w./:=,+@%-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`);
  const settings = CONFIG_ENV.flatMap((k) => (env[k] ? [`${k}=${quote(env[k])}`] : []));
  return [...settings, program, ...argv.map(quote)].join(' ');
}
