import { sql } from 'kysely';

// Leases, deadlines and ages are reckoned by the database's clock: one clock for every process,
// however far the machines' clocks drift apart.

/** `now() + ms`, in SQL. */
export function msFromNow(ms: number) {
  return sql<Date>`now() + make_interval(secs => ${ms / 1000}::double precision)`;
}

/** `now() - ms`, in SQL. */
export function msAgo(ms: number) {
  return sql<Date>`now() - make_interval(secs => ${ms / 1000}::double precision)`;
}
