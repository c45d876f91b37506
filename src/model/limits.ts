/**
 * Size limits for POST /api/imports. The batch-wide ones are settings (see config/settings.ts);
 * the per-field ones are fixed, and the zod schemas in deviceSchema.ts are built from both.
 */
export interface IntakeLimits {
  /** Devices in one batch; a bigger batch is refused (413) before any device is validated. */
  maxDevices: number;
  /** Bytes of request body; the HTTP layer enforces it while reading. */
  maxBodyBytes: number;
  /** Smallest decoded hardware hash accepted, in bytes. */
  hashMinBytes: number;
  /** Largest decoded hardware hash accepted, in bytes (a real "4K hash" is about 3,000). */
  hashMaxBytes: number;
}

export const DEFAULT_INTAKE_LIMITS: IntakeLimits = {
  maxDevices: 10_000,
  maxBodyBytes: 104_857_600,
  hashMinBytes: 64,
  hashMaxBytes: 16_384,
};

/** Per-field limits, in characters (after trimming). */
export const SERIAL_NUMBER_MAX_LENGTH = 128;
export const PRODUCT_KEY_MAX_LENGTH = 64;
export const GROUP_TAG_MAX_LENGTH = 128;
export const ORDER_IDENTIFIER_MAX_LENGTH = 128;
export const IMPORT_ID_MAX_LENGTH = 128;
/** Entra ID's limit for a user principal name: 64 for the part before '@', 113 in all. */
export const UPN_MAX_LENGTH = 113;
export const UPN_LOCAL_PART_MAX_LENGTH = 64;
/** A tenant is named by its GUID or by one of its domain names (at most 253 characters). */
export const TENANT_DOMAIN_MAX_LENGTH = 253;

/** A validation problem lists at most this many field problems; the rest are only counted. */
export const MAX_REPORTED_PROBLEMS = 1_000;

/** Models counted in a batch header: enough for any real order; bounds the header's column (Table storage: 64 KiB a property). */
export const MAX_MODEL_GROUPS = 50;
