import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  assembleHash,
  syntheticHash,
  syntheticHashBytes,
  syntheticRecords,
  type SyntheticDevice,
} from "../../src/dev/simulator/syntheticHash.js";
import { CHECKSUM_RECORD_LENGTH, canonicalBase64, decodeHardwareHash, readHashBytes, RecordType } from "../../src/model/hardwareHash.js";

// Printable text without NUL, as SMBIOS strings are; trimmed, because the decoder trims.
const smbiosText = fc
  .string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)), minLength: 1, maxLength: 40 })
  .map((s) => s.trim())
  .filter((s) => s !== "");

const deviceArb: fc.Arbitrary<SyntheticDevice> = fc.record(
  {
    serialNumber: smbiosText,
    manufacturer: smbiosText,
    model: smbiosText,
    family: smbiosText,
    tpm: fc.boolean(),
    capturedAt: fc.integer({ min: 1, max: 2 ** 31 }).map((s) => new Date(Date.UTC(2000, 0, 1) + s * 1000)),
    seed: fc.nat(),
    minimal: fc.boolean(),
  },
  { requiredKeys: ["seed"] },
);

const endOf = (bytes: Buffer) => bytes.readUInt16LE(2);

/** Offsets of payload bytes (not record headers) in [4, end). */
function payloadOffsets(bytes: Buffer): number[] {
  const offsets: number[] = [];
  for (let at = 4; at < endOf(bytes); at += bytes.readUInt16LE(at + 2)) {
    for (let i = at + 4; i < at + bytes.readUInt16LE(at + 2); i++) offsets.push(i);
  }
  return offsets;
}

describe("decodeHardwareHash on synthetic hashes", () => {
  it("decodes any generated hash to what it was made from", () => {
    fc.assert(
      fc.property(deviceArb, (device) => {
        const hash = syntheticHash(device);
        const decoded = decodeHardwareHash(hash);
        expect(decoded).toMatchObject({ ok: true, canonical: hash });
        if (!decoded.ok) return;
        expect(decoded.facts.serialNumber).toBe(device.serialNumber);
        expect(decoded.facts.manufacturer).toBe(device.manufacturer ?? "Contoso");
        expect(decoded.facts.model).toBe(device.minimal ? undefined : (device.model ?? "Surface Laptop 7"));
        expect(decoded.facts.hasTpm).toBe(!device.minimal && device.tpm !== false);
        if (!device.minimal) {
          expect(decoded.facts.family).toBe(device.family ?? "Surface");
          if (device.tpm !== false) expect(decoded.facts.tpmVersion).toBe("2.0");
          if (device.capturedAt)
            expect(decoded.facts.capturedAt).toBe(new Date(Math.floor(device.capturedAt.getTime() / 1000) * 1000).toISOString());
        }
      }),
    );
  });

  it("fails any single-byte change in the checksummed range; inside a record's payload, as a checksum mismatch", () => {
    fc.assert(
      fc.property(deviceArb, fc.nat(), fc.integer({ min: 1, max: 255 }), (device, pick, delta) => {
        const bytes = syntheticHashBytes(device);
        const at = pick % (endOf(bytes) + CHECKSUM_RECORD_LENGTH);
        const changed = Buffer.from(bytes);
        changed[at] = (changed[at]! + delta) % 256;
        expect(readHashBytes(changed).ok).toBe(false);

        const payload = payloadOffsets(bytes);
        const inPayload = payload[pick % payload.length]!;
        const damaged = Buffer.from(bytes);
        damaged[inPayload] = (damaged[inPayload]! + delta) % 256;
        expect(readHashBytes(damaged)).toEqual({ ok: false, problem: "checksum-mismatch" });
      }),
    );
  });

  it("reports any cut before the end of the checksum as truncated, and a cut in the zero padding as harmless", () => {
    fc.assert(
      fc.property(deviceArb, fc.nat(), (device, pick) => {
        const bytes = syntheticHashBytes(device);
        const whole = endOf(bytes) + CHECKSUM_RECORD_LENGTH;
        const cut = pick % bytes.length;
        expect(readHashBytes(bytes.subarray(0, cut))).toEqual(
          cut < whole ? { ok: false, problem: "truncated" } : expect.objectContaining({ ok: true }),
        );
      }),
    );
  });

  it("reports a cut of the base64 as truncated, or as not base64 where no padding can mend it", () => {
    fc.assert(
      fc.property(deviceArb, fc.nat(), (device, pick) => {
        const hash = syntheticHash(device);
        const whole = Math.floor(((endOf(syntheticHashBytes(device)) + CHECKSUM_RECORD_LENGTH) * 4) / 3);
        const cut = pick % whole;
        expect(decodeHardwareHash(hash.slice(0, cut))).toMatchObject({ ok: false, problem: cut % 4 === 1 ? "not-base64" : "truncated" });
      }),
    );
  });

  it("restores missing padding and drops whitespace: the canonical form is the padded base64", () => {
    fc.assert(
      fc.property(
        deviceArb,
        fc.integer({ min: 1, max: 2 }),
        fc.array(fc.tuple(fc.nat(), fc.constantFrom(" ", "\n", "\r\n", "\t")), { maxLength: 5 }),
        (device, extra, spaces) => {
          const padded = syntheticHash({ ...device, size: 3_000 + extra }); // 3,001 or 3,002 bytes: one or two '='
          let damaged = padded.replace(/=+$/, "");
          for (const [at, space] of spaces) damaged = damaged.slice(0, at % damaged.length) + space + damaged.slice(at % damaged.length);
          expect(decodeHardwareHash(damaged)).toMatchObject({ ok: true, canonical: padded });
        },
      ),
    );
  });

  it("skips records of types it does not know, by their length", () => {
    fc.assert(
      fc.property(
        deviceArb,
        fc.integer({ min: 40, max: 0x5342 }),
        fc.uint8Array({ maxLength: 300 }),
        fc.nat(),
        (device, type, payload, pick) => {
          const records = syntheticRecords(device);
          const unknown = Object.values(RecordType).includes(type as never) ? 99 : type;
          records.splice(pick % (records.length + 1), 0, { type: unknown, payload });
          const withUnknown = readHashBytes(assembleHash(records));
          expect(withUnknown).toEqual(readHashBytes(syntheticHashBytes(device)));
        },
      ),
    );
  });
});

describe("decodeHardwareHash on broken hashes", () => {
  it("says which way a hash is broken", () => {
    const good = syntheticHashBytes({ serialNumber: "PF3ABC09", seed: 1 });
    const end = endOf(good);
    const withEnd = (value: number) => {
      const b = Buffer.from(good);
      b.writeUInt16LE(value, 2);
      return b.toString("base64");
    };
    expect(decodeHardwareHash("not base64!")).toEqual({ ok: false, problem: "not-base64" });
    expect(decodeHardwareHash("QUJDR")).toEqual({ ok: false, problem: "not-base64" }); // length ≡ 1 mod 4
    expect(decodeHardwareHash("QQ=")).toEqual({ ok: false, problem: "not-base64" }); // padded, but wrongly
    expect(decodeHardwareHash(Buffer.from("PK\x03\x04 a zip file, not a hash, of some length").toString("base64"))).toMatchObject({
      problem: "wrong-magic",
    });
    // The short example hash that circulates in partner documentation: declares 371 bytes.
    expect(decodeHardwareHash("T0FzAQEAHAAAAAoA6AOCOgEABgBgW7EdzorHH3g")).toMatchObject({ ok: false, problem: "truncated" });
    // An end that falls inside a record, and one past all records (into the checksum record).
    expect(decodeHardwareHash(withEnd(end - 3))).toMatchObject({ problem: "bad-record-end" });
    expect(decodeHardwareHash(withEnd(end + 4))).toMatchObject({ problem: "bad-record-end" });
    expect(decodeHardwareHash(withEnd(2))).toMatchObject({ problem: "bad-record-end" });
    const noChecksumRecord = Buffer.from(good);
    noChecksumRecord.writeUInt16LE(0x1234, end);
    expect(decodeHardwareHash(noChecksumRecord.toString("base64"))).toMatchObject({ problem: "checksum-mismatch" });
  });

  it("reads no TPM from a hash without TPM records, or with an empty endorsement key", () => {
    expect(decodeHardwareHash(syntheticHash({ tpm: false }))).toMatchObject({ ok: true, facts: { hasTpm: false } });
    const records = syntheticRecords({ tpm: false });
    records.push({ type: RecordType.tpmEndorsementKey, payload: new Uint8Array(256) });
    expect(readHashBytes(assembleHash(records))).toMatchObject({ ok: true, facts: { hasTpm: false } });
  });

  it("never puts the hash's text in what it returns", () => {
    const broken = syntheticHash({ serialNumber: "SECRET-SERIAL", seed: 2 }).slice(0, 2_001);
    expect(JSON.stringify(decodeHardwareHash(broken))).not.toContain(broken.slice(0, 40));
  });

  it("canonicalBase64 accepts strict base64 unchanged and refuses other alphabets", () => {
    expect(canonicalBase64("QUJD")).toBe("QUJD");
    expect(canonicalBase64("QUI")).toBe("QUI=");
    expect(canonicalBase64("QQ")).toBe("QQ==");
    expect(canonicalBase64("Q-_D")).toBeUndefined();
    expect(canonicalBase64("QU=D")).toBeUndefined();
  });
});
