/**
 * Resources a benchmark started (processes, servers, temporary directories), released in reverse
 * order. `bench/run.ts` also releases them on SIGINT, SIGTERM or its time limit, so that no
 * process or directory outlives the run.
 */
type Release = () => Promise<unknown> | unknown;

const releases: { name: string; release: Release }[] = [];

/** Registers a release function and returns a function that runs it once and unregisters it. */
export function track(name: string, release: Release): () => Promise<void> {
  const entry = { name, release };
  releases.push(entry);
  return async () => {
    const index = releases.indexOf(entry);
    if (index < 0) return;
    releases.splice(index, 1);
    await entry.release();
  };
}

/** Runs every registered release, newest first. Reports failures and carries on. */
export async function releaseAll(): Promise<void> {
  while (releases.length > 0) {
    const entry = releases.pop();
    if (!entry) break;
    try {
      await entry.release();
    } catch (error) {
      process.stderr.write(`cleanup of ${entry.name} failed: ${String(error)}\n`);
    }
  }
}
