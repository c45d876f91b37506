/**
 * `FAULTS=full` (npm run test:faults) runs bigger batches and more fuzz cases; otherwise the
 * short version, which npm test runs.
 */
export function faultScale<T>(sizes: { short: T; full: T }): T {
  return process.env.FAULTS === "full" ? sizes.full : sizes.short;
}
