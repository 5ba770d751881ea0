/** Dispatches the commands that work against a configured Redis. */
export async function runCommand(command: string, args: string[]): Promise<number> {
  process.stderr.write(`postroom: unknown command "${command}" (args: ${args.length}); run postroom help\n`);
  return 2;
}
