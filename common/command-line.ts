/** The command line that produced a result file, as typed, quoted where a shell would need it. */
export function commandLine(program: string, argv: readonly string[]): string {
  const quote = (a: string) => (/^[\w./:=,+@%-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`);
  return [program, ...argv.map(quote)].join(' ');
}
