interface WindowEntry {
  atMs: number;
  weight: number;
}

/** A sum of weighted events over the last `windowMs` milliseconds. */
export class RollingWindow {
  readonly #windowMs: number;
  #entries: WindowEntry[] = [];
  #total = 0;

  constructor(windowMs: number) {
    this.#windowMs = windowMs;
  }

  add(atMs: number, weight = 1): void {
    this.#entries.push({ atMs, weight });
    this.#total += weight;
  }

  /** Sum of the weights of events newer than `nowMs - windowMs`. */
  total(nowMs: number): number {
    const cutoffMs = nowMs - this.#windowMs;
    let expired = 0;
    while (expired < this.#entries.length && (this.#entries[expired]?.atMs ?? 0) <= cutoffMs) {
      this.#total -= this.#entries[expired]?.weight ?? 0;
      expired += 1;
    }
    if (expired > 0) {
      this.#entries = this.#entries.slice(expired);
    }
    return this.#total;
  }

  clear(): void {
    this.#entries = [];
    this.#total = 0;
  }
}
