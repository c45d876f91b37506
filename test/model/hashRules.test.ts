import { describe, expect, it } from "vitest";
import { assembleHash, syntheticHash, syntheticHashBytes, syntheticRecords } from "../../src/dev/simulator/syntheticHash.js";
import { HASH_WARNINGS } from "../../src/model/hashRules.js";
import { hashFor, makeCsv } from "../support/devices.js";
import { CSV_HEADER, ok, postCsv, postJson, problemOf } from "../intake/helpers.js";

const damaged = {
  /** A character changed inside the records: the checksum no longer matches. */
  checksum: (serialNumber: string) => {
    const bytes = syntheticHashBytes({ serialNumber, seed: 3 });
    bytes[40] = bytes[40]! ^ 0x01;
    return bytes.toString("base64");
  },
  truncated: (serialNumber: string) => hashFor(serialNumber, 4).slice(0, 600),
  wrongMagic: () => Buffer.alloc(3_000, 7).toString("base64"),
  recordEnd: (serialNumber: string) => {
    const bytes = syntheticHashBytes({ serialNumber, seed: 5 });
    bytes.writeUInt16LE(bytes.readUInt16LE(2) - 1, 2);
    return bytes.toString("base64");
  },
  notBase64: (serialNumber: string) => `${hashFor(serialNumber, 6).slice(0, 100)}!${hashFor(serialNumber, 6).slice(101)}`,
};

describe("what intake reads from the hash", () => {
  it("keeps manufacturer and model, and the row's spelling of a serial number the hash agrees with", () => {
    const hash = syntheticHash({ serialNumber: "PF3ABC09", manufacturer: "LENOVO", model: "21KCS0XY00", seed: 1 });
    const outcome = ok(postJson({ devices: [{ serialNumber: " pf3abc09 ", hardwareIdentifier: hash }] }));
    expect(outcome.request.devices).toEqual([
      { serialNumber: "pf3abc09", hardwareIdentifier: hash, manufacturer: "LENOVO", model: "21KCS0XY00" },
    ]);
  });

  it("gives a row without a serial number the one its hash names (JSON and CSV)", () => {
    const hash = hashFor("FROM-HASH-1", 1);
    expect(ok(postJson({ devices: [{ serialNumber: "", hardwareIdentifier: hash }] })).request.devices[0]?.serialNumber).toBe(
      "FROM-HASH-1",
    );
    expect(ok(postJson({ devices: [{ hardwareIdentifier: hash }] })).request.devices[0]?.serialNumber).toBe("FROM-HASH-1");
    expect(ok(postCsv(`${CSV_HEADER}\r\n,,${hash}\r\n`)).request.devices[0]?.serialNumber).toBe("FROM-HASH-1");
  });

  it("still requires a serial number when the hash names none", () => {
    const hash = syntheticHash({ seed: 2 });
    expect(problemOf(postJson({ devices: [{ serialNumber: "", hardwareIdentifier: hash }] })).errors).toEqual([
      { device: 0, field: "serialNumber", message: "required" },
    ]);
  });

  it("accepts a hash without TPM data, with a warning on the device", () => {
    const noTpm = syntheticHash({ serialNumber: "NO-TPM-1", tpm: false, seed: 3 });
    const devices = ok(
      postJson({
        devices: [
          { serialNumber: "NO-TPM-1", hardwareIdentifier: noTpm },
          { serialNumber: "TPM-1", hardwareIdentifier: hashFor("TPM-1") },
        ],
      }),
    ).request.devices;
    expect(devices[0]?.warnings).toEqual(["no-tpm"]);
    expect(devices[1]?.warnings).toBeUndefined();
    expect(HASH_WARNINGS["no-tpm"]).toMatch(/self-deploying and pre-provisioning modes need TPM 2\.0/);
  });

  it("skips records of unknown types and still reads the device", () => {
    const records = syntheticRecords({ serialNumber: "NEWER-1", seed: 4 });
    records.splice(2, 0, { type: 38, payload: new Uint8Array([1, 2, 3]) }, { type: 2_000, payload: new Uint8Array(0) });
    const hash = assembleHash(records).toString("base64");
    expect(ok(postJson({ devices: [{ serialNumber: "NEWER-1", hardwareIdentifier: hash }] })).request.devices[0]).toMatchObject({
      manufacturer: "Contoso",
    });
  });
});

describe("refusals", () => {
  it("refuses every broken hash at once, each with its line, code and reason, never quoting the hash", () => {
    const rows = [
      { serialNumber: "OK-1", hardwareIdentifier: hashFor("OK-1") },
      { serialNumber: "CHK-1", hardwareIdentifier: damaged.checksum("CHK-1") },
      { serialNumber: "CUT-1", hardwareIdentifier: damaged.truncated("CUT-1") },
      { serialNumber: "MAG-1", hardwareIdentifier: damaged.wrongMagic() },
      { serialNumber: "END-1", hardwareIdentifier: damaged.recordEnd("END-1") },
      { serialNumber: "B64-1", hardwareIdentifier: damaged.notBase64("B64-1") },
    ];
    const problem = problemOf(postCsv(makeCsv(rows)));
    expect(problem.errors).toEqual([
      {
        device: 1,
        line: 3,
        field: "hardwareIdentifier",
        code: "hash-checksum-mismatch",
        message: expect.stringMatching(/^is damaged: its SHA-256 checksum does not match/),
      },
      { device: 2, line: 4, field: "hardwareIdentifier", code: "hash-truncated", message: expect.stringMatching(/^is cut short/) },
      {
        device: 3,
        line: 5,
        field: "hardwareIdentifier",
        code: "hash-wrong-magic",
        message: expect.stringMatching(/^is not a 4K hardware hash/),
      },
      {
        device: 4,
        line: 6,
        field: "hardwareIdentifier",
        code: "hash-bad-record-end",
        message: expect.stringMatching(/records do not end where the hash says/),
      },
      {
        device: 5,
        line: 7,
        field: "hardwareIdentifier",
        code: "hash-not-base64",
        message: expect.stringMatching(/outside the base64 alphabet/),
      },
    ]);
    expect(problem.detail).toBe("5 problems in 5 devices; nothing was imported.");
    const text = JSON.stringify(problem);
    for (const row of rows) expect(text).not.toContain(row.hardwareIdentifier.slice(0, 24));
    for (const error of problem.errors ?? [])
      expect(error.message).toMatch(/802 InvalidZtdHardwareHash; if you know it to be good, hashCheck=off/);
  });

  it("refuses a row whose serial number contradicts its hash's, naming both", () => {
    const problem = problemOf(postJson({ devices: [{ serialNumber: "ROW-SERIAL", hardwareIdentifier: hashFor("HASH-SERIAL") }] }));
    expect(problem.errors).toEqual([
      {
        device: 0,
        field: "serialNumber",
        code: "serial-contradicts-hash",
        message:
          "is 'ROW-SERIAL', but the hardware hash is of the device with serial number 'HASH-SERIAL' (a row mixed up with another device's hash?)",
      },
    ]);
  });

  it("treats two rows whose hashes name the same serial number as duplicates", () => {
    const problem = problemOf(postCsv(`${CSV_HEADER}\r\n,,${hashFor("SAME-1", 1)}\r\n,,${hashFor("same-1 ", 2)}\r\n`));
    expect(problem.errors).toEqual([{ device: 1, line: 3, field: "serialNumber", message: "same serial number as device 0 (line 2)" }]);
  });

  it("treats the same hash with and without its padding as one hash", () => {
    const hash = syntheticHash({ serialNumber: "PAD-1", size: 3_001 });
    const problem = problemOf(
      postJson({
        devices: [
          { serialNumber: "PAD-1", hardwareIdentifier: hash },
          { serialNumber: "PAD-2", hardwareIdentifier: hash.replace(/=+$/, "") },
        ],
      }),
    );
    expect(problem.errors).toEqual(
      expect.arrayContaining([{ device: 1, field: "hardwareIdentifier", message: "same hardware hash as device 0" }]),
    );
  });
});

describe("hashCheck=off", () => {
  const broken = [
    { serialNumber: "CHK-1", hardwareIdentifier: damaged.checksum("CHK-1") },
    { serialNumber: "OTHER-SERIAL", hardwareIdentifier: hashFor("HASH-SERIAL") },
    { serialNumber: "B64-1", hardwareIdentifier: damaged.notBase64("B64-1") },
  ];

  it("turns the refusals off for one batch, from the query string or the JSON body, and reads nothing from the hashes", () => {
    for (const outcome of [
      ok(postCsv(makeCsv(broken), "hashCheck=off")),
      ok(postJson({ hashCheck: "off", devices: broken })),
      ok(postJson({ devices: broken }, "hashcheck=OFF")),
    ]) {
      expect(outcome.request.hashCheck).toBe("off");
      expect(outcome.request.devices.map((d) => d.serialNumber)).toEqual(["CHK-1", "OTHER-SERIAL", "B64-1"]);
      expect(outcome.request.devices.every((d) => d.manufacturer === undefined && d.warnings === undefined)).toBe(true);
    }
    expect(ok(postJson({ importedWindowsAutopilotDeviceIdentities: broken }, "hashCheck=off")).request.hashCheck).toBe("off");
  });

  it("still mends whitespace and padding where the base64 is valid, and still applies the size rule", () => {
    const hash = syntheticHash({ serialNumber: "PAD-1", size: 3_001 });
    const outcome = ok(
      postJson({
        hashCheck: "off",
        devices: [{ serialNumber: "PAD-1", hardwareIdentifier: `${hash.slice(0, 50)}\n${hash.slice(50).replace(/=+$/, "")}` }],
      }),
    );
    expect(outcome.request.devices[0]?.hardwareIdentifier).toBe(hash);
    expect(problemOf(postJson({ hashCheck: "off", devices: [{ serialNumber: "S", hardwareIdentifier: "QUJD" }] })).errors).toEqual([
      { device: 0, field: "hardwareIdentifier", code: "hash-size", message: expect.stringMatching(/^decodes to 3 bytes/) },
    ]);
  });

  it("is on unless the batch says off, and refuses other values by name", () => {
    expect(problemOf(postJson({ hashCheck: "on", devices: broken })).errors).toHaveLength(3);
    expect(
      ok(postJson({ hashCheck: "on", devices: [{ serialNumber: "OK-1", hardwareIdentifier: hashFor("OK-1") }] })).request.hashCheck,
    ).toBeUndefined();
    expect(
      problemOf(postJson({ hashCheck: "no", devices: [{ serialNumber: "OK-1", hardwareIdentifier: hashFor("OK-1") }] })).errors,
    ).toEqual([{ field: "hashCheck", message: "must be 'on' or 'off'" }]);
  });
});
