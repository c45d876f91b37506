/**
 * Synthetic 4K hardware hashes: the layout real ones have (src/model/hardwareHash.ts), a valid
 * SHA-256, zero padding to 3,000 bytes, and made-up contents. Real hashes carry a device's
 * serial number, MAC addresses, product key id and TPM key, so none is ever committed: tests,
 * the simulator's seed data, the bench and examples/devices.csv all use these.
 *
 * Lives beside the simulator (dev code, not a test file) so the bench and `npm start` can
 * import it without the app shipping test support.
 */
import { createHash } from "node:crypto";
import {
  CAPTURE_EPOCH_MS,
  CAPTURE_TIME_OFFSET,
  CHECKSUM_RECORD_LENGTH,
  CHECKSUM_TYPE,
  HASH_MAGIC,
  HEADER_LENGTH,
  RECORD_HEADER_LENGTH,
  RecordType,
  USUAL_HASH_BYTES,
} from "../../model/hardwareHash.js";

export interface SyntheticDevice {
  /** Absent: the hash has no serial-number record. */
  serialNumber?: string;
  manufacturer?: string;
  model?: string;
  family?: string;
  /** TPM version text and endorsement key records (default true). */
  tpm?: boolean;
  capturedAt?: Date;
  /** Varies the other records (processor, disks, MACs, …) so two devices never share a hash. */
  seed?: number;
  /** Pad with zeros to this many bytes (default 3,000); a hash never gets shorter than its records. */
  size?: number;
  /** Only serial number and manufacturer (no model, no TPM): for hashes of a few dozen bytes. */
  minimal?: boolean;
}

export interface HashRecord {
  type: number;
  payload: Uint8Array;
}

export const SYNTHETIC_MANUFACTURER = "Contoso";
export const SYNTHETIC_MODEL = "Surface Laptop 7";
export const SYNTHETIC_FAMILY = "Surface";

/** The base64 of a synthetic hash. */
export function syntheticHash(device: SyntheticDevice = {}): string {
  return syntheticHashBytes(device).toString("base64");
}

export function syntheticHashBytes(device: SyntheticDevice = {}): Buffer {
  return assembleHash(syntheticRecords(device), device.size ?? USUAL_HASH_BYTES);
}

/** The records a device of these facts would have, in the order OA3 tooling writes them. */
export function syntheticRecords(device: SyntheticDevice): HashRecord[] {
  const seed = device.seed ?? 0;
  const random = seededBytes(seed);
  const text = (type: number, value: string | undefined) => (value === undefined ? [] : [{ type, payload: asciiz(value) }]);
  // What Intune needs inside a hash (serial number, manufacturer), then the model.
  const identity = [
    ...text(RecordType.serialNumber, device.serialNumber),
    ...text(RecordType.manufacturer, device.manufacturer ?? SYNTHETIC_MANUFACTURER),
  ];
  const model = text(RecordType.model, device.model ?? SYNTHETIC_MODEL);
  const tpm =
    device.tpm === false
      ? []
      : [
          { type: RecordType.tpmVersion, payload: asciiz("TPM-Version:2.0 -Level:0-Revision:1.38-VendorID:'MSFT'-Firmware:1.0") },
          { type: RecordType.tpmEndorsementKey, payload: random(256) },
        ];
  // Seeded even when minimal, so two devices never share a hash.
  if (device.minimal) return [...identity, { type: 33, payload: random(4) }];
  return [
    { type: RecordType.captureInfo, payload: captureInfo(device.capturedAt ?? new Date(Date.UTC(2026, 0, 15, 9, 30))) },
    ...text(3, "GenuineIntel"),
    ...text(4, "Intel(R) Core(TM) Ultra 7 268V"),
    { type: 5, payload: random(12) },
    { type: 6, payload: random(12) },
    ...text(7, `DSK${seed.toString(16).toUpperCase().padStart(12, "0")}`),
    { type: 8, payload: Buffer.concat([random(10), Buffer.from("PCI\0", "utf16le")]) },
    { type: 8, payload: Buffer.concat([random(10), Buffer.from("USB\0", "utf16le")]) },
    { type: 10, payload: Buffer.from([9, 2, 0, 0]) },
    { type: 11, payload: Buffer.concat([Buffer.from([1]), random(32)]) },
    { type: 12, payload: random(16) },
    ...tpm,
    ...identity,
    ...model,
    ...text(15, "Contoso Firmware"),
    ...text(18, "SKU-7000"),
    ...text(RecordType.family, device.family ?? SYNTHETIC_FAMILY),
    ...text(24, "0000000000000"),
    // A type whose meaning nobody has settled: decoders must skip it by its length.
    { type: 33, payload: random(37) },
  ];
}

/** Header, records, checksum record, zero padding: a hash with a valid SHA-256 over its records. */
export function assembleHash(records: readonly HashRecord[], size: number = USUAL_HASH_BYTES): Buffer {
  const end = HEADER_LENGTH + records.reduce((sum, r) => sum + RECORD_HEADER_LENGTH + r.payload.length, 0);
  const bytes = Buffer.alloc(Math.max(size, end + CHECKSUM_RECORD_LENGTH));
  bytes.writeUInt16LE(HASH_MAGIC, 0);
  bytes.writeUInt16LE(end, 2);
  let at = HEADER_LENGTH;
  for (const record of records) {
    bytes.writeUInt16LE(record.type, at);
    bytes.writeUInt16LE(RECORD_HEADER_LENGTH + record.payload.length, at + 2);
    bytes.set(record.payload, at + RECORD_HEADER_LENGTH);
    at += RECORD_HEADER_LENGTH + record.payload.length;
  }
  bytes.writeUInt16LE(CHECKSUM_TYPE, end);
  bytes.writeUInt16LE(CHECKSUM_RECORD_LENGTH, end + 2);
  createHash("sha256")
    .update(bytes.subarray(0, end))
    .digest()
    .copy(bytes, end + RECORD_HEADER_LENGTH);
  return bytes;
}

function asciiz(value: string): Buffer {
  return Buffer.from(`${value}\0`, "latin1");
}

function captureInfo(at: Date): Buffer {
  const payload = Buffer.alloc(24);
  // tool build and OS build: minor, major, revision, build
  [0, 10, 0, 26100, 0, 10, 0, 26100].forEach((v, i) => payload.writeUInt16LE(v, i * 2));
  payload.writeUInt32LE(Math.max(0, Math.floor((at.getTime() - CAPTURE_EPOCH_MS) / 1000)), CAPTURE_TIME_OFFSET);
  payload[21] = 2; // full OS
  payload[22] = 9; // x64
  payload[23] = 8;
  return payload;
}

/** Deterministic bytes for a seed: the same device always gets the same hash. */
function seededBytes(seed: number): (n: number) => Buffer {
  let counter = 0;
  return (n) => {
    const chunks: Buffer[] = [];
    for (let got = 0; got < n; got += 32) chunks.push(createHash("sha256").update(`synthetic:${seed}:${counter++}`).digest());
    return Buffer.concat(chunks).subarray(0, n);
  };
}
