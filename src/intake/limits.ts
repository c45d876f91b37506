/** Limits on a batch as a whole; settings can change them (see src/config/settings.ts). */
export interface IntakeLimits {
  maxDevices: number;
  /** The Functions HTTP front end refuses bodies over 100 MB anyway. */
  maxBodyBytes: number;
  hashMinBytes: number;
  hashMaxBytes: number;
}

export const DEFAULT_INTAKE_LIMITS: IntakeLimits = {
  maxDevices: 10_000,
  maxBodyBytes: 104_857_600,
  hashMinBytes: 64,
  hashMaxBytes: 16_384,
};

/** Per-field limits. Graph documents none; these are generous bounds on real values that keep rows and messages small. */
export const FIELD_LIMITS = {
  serialNumber: 128,
  productKey: 64,
  groupTag: 128,
  orderIdentifier: 128,
  importId: 128,
  /** Entra ID's limit on a user principal name. */
  assignedUserPrincipalName: 113,
} as const;

/** A validation answer lists at most this many problems, so a huge bad batch does not produce a huge body. */
export const MAX_LISTED_PROBLEMS = 1_000;
