// Medians and a latency histogram with 10 us buckets (autocannon's own rounds to whole ms).

export function median(xs) {
  const sorted = xs.filter((x) => x !== null && x !== undefined && !Number.isNaN(x)).sort((a, b) => a - b);
  return sorted.length === 0 ? null : sorted[Math.floor(sorted.length / 2)];
}

const BUCKET_US = 10;
const MAX_MS = 10_000;

export class LatencyHistogram {
  #buckets = new Uint32Array((MAX_MS * 1000) / BUCKET_US + 1);
  count = 0;

  /** Records one latency in milliseconds; anything above 10 s counts as 10 s. */
  record(ms) {
    const index = Math.min(Math.round((ms * 1000) / BUCKET_US), this.#buckets.length - 1);
    this.#buckets[index] += 1;
    this.count += 1;
  }

  /** The latency in ms at or under which `p` percent of the recorded ones are; null when empty. */
  percentile(p) {
    if (this.count === 0) return null;
    const rank = Math.ceil((p / 100) * this.count);
    let seen = 0;
    for (let i = 0; i < this.#buckets.length; i++) {
      seen += this.#buckets[i];
      if (seen >= rank) return (i * BUCKET_US) / 1000;
    }
    return MAX_MS;
  }
}
