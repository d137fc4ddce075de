/**
 * The log of requests the simulated Graph received: method, path with query, status, simulated time and
 * whether a bearer token was present, never the token itself. Benchmarks count requests per poll with it.
 */
export interface GraphRequestLogEntry {
  method: string;
  /** Path with query, e.g. `/v1.0/me/messages?$top=10`. */
  path: string;
  status: number;
  /** Simulated time the request arrived (ISO). */
  at: string;
  bearer: boolean;
}

export class RequestLog {
  private readonly entries: GraphRequestLogEntry[] = [];
  /** Oldest entries are dropped beyond this many. */
  limit = 100_000;

  record(entry: GraphRequestLogEntry): void {
    this.entries.push(entry);
    if (this.entries.length > this.limit) this.entries.splice(0, this.entries.length - this.limit);
  }

  /** Entries in arrival order, optionally only those whose path matches. */
  list(pathPattern?: RegExp): GraphRequestLogEntry[] {
    return pathPattern ? this.entries.filter((e) => pathPattern.test(e.path)) : [...this.entries];
  }

  get count(): number {
    return this.entries.length;
  }

  clear(): void {
    this.entries.length = 0;
  }
}
