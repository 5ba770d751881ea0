import { readFileSync } from 'node:fs';

interface LockEntry {
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  dev?: boolean;
  devOptional?: boolean;
  peer?: boolean;
  [field: string]: unknown;
}

/**
 * Builds a package-lock.json (version 3) for an empty project that pins `roots` and everything
 * they depend on to the versions in the repository's lockfile. With it, `npm install --offline`
 * resolves those packages from the npm cache that `npm ci` filled, without asking the registry
 * for package metadata.
 */
export function lockfileFor(repositoryLockfile: string, roots: string[]): object {
  const packages = (
    JSON.parse(readFileSync(repositoryLockfile, 'utf8')) as {
      packages: Record<string, LockEntry>;
    }
  ).packages;
  const picked: Record<string, LockEntry> = {};

  const add = (parentPath: string, name: string, optional: boolean): void => {
    const path = locate(packages, parentPath, name);
    if (!path) {
      if (optional) return;
      throw new Error(
        `${name}, needed by ${parentPath || 'the project'}, is not in ${repositoryLockfile}; run npm install in the repository to update it`,
      );
    }
    if (picked[path]) return;
    const {
      dev: _dev,
      devOptional: _devOptional,
      peer: _peer,
      ...entry
    } = packages[path] as LockEntry;
    picked[path] = entry;
    for (const dependency of Object.keys(entry.dependencies ?? {})) add(path, dependency, false);
    for (const dependency of Object.keys(entry.optionalDependencies ?? {}))
      add(path, dependency, true);
  };
  for (const root of roots) add('', root, false);

  return {
    name: 'consumer',
    lockfileVersion: 3,
    requires: true,
    packages: { '': { name: 'consumer' }, ...picked },
  };
}

// Finds the lockfile path Node.js would load `name` from when `parentPath` requires it: the
// parent's own node_modules first, then each enclosing node_modules up to the root.
function locate(
  packages: Record<string, LockEntry>,
  parentPath: string,
  name: string,
): string | undefined {
  let base = parentPath;
  for (;;) {
    const path = base ? `${base}/node_modules/${name}` : `node_modules/${name}`;
    if (packages[path]) return path;
    if (!base) return undefined;
    const index = base.lastIndexOf('/node_modules/');
    base = index < 0 ? '' : base.slice(0, index);
  }
}
