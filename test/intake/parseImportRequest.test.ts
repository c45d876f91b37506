import { describe, expect, it } from "vitest";
import { ProblemType } from "../../src/http/problem.js";
import { HASH_FACTS, makeHash, withHashFacts } from "../support/devices.js";
import { device, limits, ok, parse, postJson, problemOf } from "./helpers.js";

const TENANT = "11111111-2222-3333-4444-555555555555";

describe("JSON body, our shape", () => {
  it("returns the batch with batch-level groupTag and orderIdentifier applied to devices that have none", () => {
    const outcome = ok(
      postJson({
        tenantId: "contoso.onmicrosoft.com",
        groupTag: "Sales",
        orderIdentifier: "PO-1",
        devices: [device(1), device(2, { groupTag: "HR" })],
      }),
    );
    expect(outcome.source).toBe("json");
    expect(outcome.lines).toBeUndefined();
    expect(outcome.request).toEqual({
      tenantId: "contoso.onmicrosoft.com",
      groupTag: "Sales",
      orderIdentifier: "PO-1",
      devices: [
        withHashFacts({ ...device(1), groupTag: "Sales", orderIdentifier: "PO-1" }),
        withHashFacts({ ...device(2), groupTag: "HR", orderIdentifier: "PO-1" }),
      ],
    });
  });

  it("trims text, keeps every optional field, and treats empty, blank or null optional fields as absent", () => {
    const full = {
      serialNumber: "  SN-1\t",
      hardwareIdentifier: ` ${makeHash(1)}\n`,
      productKey: " 00330-80000-00000-AA123 ",
      groupTag: "Lab",
      assignedUserPrincipalName: "alex.wilber@contoso.com",
      orderIdentifier: "PO-9",
      importId: "partner-42",
    };
    expect(ok(postJson({ devices: [full] })).request.devices[0]).toEqual({
      ...full,
      serialNumber: "SN-1",
      hardwareIdentifier: makeHash(1),
      productKey: "00330-80000-00000-AA123",
      ...HASH_FACTS,
    });
    const sparse = ok(
      postJson({
        tenantId: "",
        groupTag: "  ",
        devices: [device(1, { productKey: "", groupTag: null, assignedUserPrincipalName: " ", importId: "" })],
      }),
    );
    expect(sparse.request).toEqual({ devices: [withHashFacts(device(1))] });
    expect(Object.keys(sparse.request.devices[0]!)).toEqual(["serialNumber", "hardwareIdentifier", "manufacturer", "model"]);
  });

  it("takes batch fields the body leaves out from the query string, and refuses two different values", () => {
    expect(ok(postJson({ devices: [device(1)] }, `tenantId=${TENANT}&groupTag=Q`)).request).toMatchObject({
      tenantId: TENANT,
      groupTag: "Q",
    });
    expect(ok(postJson({ tenantId: TENANT, devices: [device(1)] }, `tenantId=${TENANT.toUpperCase()}`)).request.tenantId).toBe(TENANT);
    const p = problemOf(postJson({ tenantId: TENANT, devices: [device(1)] }, "tenantId=fabrikam.com"));
    expect(p.errors).toEqual([{ field: "tenantId", message: "given in both the body and the query string, with different values" }]);
  });

  it("rejects unknown device fields by name, with a suggestion", () => {
    const p = problemOf(
      postJson({ devices: [{ serialnumber: "SN-1", hardwareIdentifier: makeHash(1), hardwareHash: makeHash(2), colour: "red" }] }),
    );
    expect(p).toMatchObject({ status: 400, type: ProblemType.validation });
    expect(p.errors).toEqual(
      expect.arrayContaining([
        { device: 0, field: "serialnumber", message: "unknown field 'serialnumber'; did you mean 'serialNumber'?" },
        { device: 0, field: "hardwareHash", message: "unknown field 'hardwareHash'; did you mean 'hardwareIdentifier'?" },
        { device: 0, field: "colour", message: expect.stringMatching(/^unknown field 'colour'; expected one of 'serialNumber', /) },
        { device: 0, field: "serialNumber", message: "required" },
      ]),
    );
    expect(p.errors).toHaveLength(4);
  });

  it("rejects unknown top-level fields by name", () => {
    const p = problemOf(postJson({ tennantId: TENANT, devices: [device(1)] }));
    expect(p.errors).toEqual([{ field: "tennantId", message: "unknown field 'tennantId'; did you mean 'tenantId'?" }]);
    expect(p.detail).toBe("1 problem in the batch itself; nothing was imported.");
  });

  it("refuses a body that is not an object, or has no device array", () => {
    expect(problemOf(postJson([device(1)]))).toMatchObject({ status: 400, type: ProblemType.validation, errors: [{ field: "(body)" }] });
    expect(problemOf(postJson({ tenantId: TENANT })).errors).toEqual([{ field: "devices", message: "required: an array of devices" }]);
    expect(problemOf(postJson({ devices: { 0: device(1) } })).errors).toEqual([
      { field: "devices", message: "must be an array of devices" },
    ]);
    expect(problemOf(postJson({ devices: [device(0), "SN-1", null] })).errors).toEqual([
      { device: 1, field: "(device)", message: "each device must be a JSON object" },
      { device: 2, field: "(device)", message: "each device must be a JSON object" },
    ]);
  });
});

describe("JSON body, Graph's import-action shape", () => {
  const graphDevice = (i: number) => ({
    "@odata.type": "#microsoft.graph.importedWindowsAutopilotDeviceIdentity",
    id: "3bfded19-ed19-3bfd-19ed-fd3b19edfd3b",
    state: {
      "@odata.type": "microsoft.graph.importedWindowsAutopilotDeviceIdentityState",
      deviceImportStatus: "complete",
      deviceErrorCode: 0,
    },
    orderIdentifier: "",
    productKey: null,
    ...device(i),
  });

  it("accepts it, ignoring @odata.type, id and state, with the batch fields from the query string", () => {
    const outcome = ok(
      postJson(
        { importedWindowsAutopilotDeviceIdentities: [graphDevice(1), graphDevice(2)] },
        `tenantId=${TENANT}&groupTag=Lab&orderIdentifier=PO-3`,
      ),
    );
    expect(outcome.request).toEqual({
      tenantId: TENANT,
      groupTag: "Lab",
      orderIdentifier: "PO-3",
      devices: [1, 2].map((i) => withHashFacts({ ...device(i), groupTag: "Lab", orderIdentifier: "PO-3" })),
    });
  });

  it("rejects other top-level fields, pointing batch fields to the query string", () => {
    const p = problemOf(postJson({ importedWindowsAutopilotDeviceIdentities: [graphDevice(1)], tenantId: TENANT, value: [] }));
    expect(p.errors).toEqual([
      {
        field: "tenantId",
        message: "unknown field 'tenantId' in Graph's import-action body; pass tenantId in the query string (?tenantId=…)",
      },
      { field: "value", message: "unknown field 'value'; expected one of 'importedWindowsAutopilotDeviceIdentities'" },
    ]);
  });

  it("validates its devices by the same rules, naming its own array", () => {
    expect(problemOf(postJson({ importedWindowsAutopilotDeviceIdentities: [{ ...graphDevice(1), serialNumber: "" }] })).errors).toEqual([
      { device: 0, field: "serialNumber", message: "required" },
    ]);
    expect(problemOf(postJson({ importedWindowsAutopilotDeviceIdentities: "x" })).errors).toEqual([
      { field: "importedWindowsAutopilotDeviceIdentities", message: "must be an array of devices" },
    ]);
    expect(problemOf(postJson({ importedWindowsAutopilotDeviceIdentities: [] })).type).toBe(ProblemType.noDevices);
  });
});

describe("query string", () => {
  it("matches batch parameter names case-insensitively and ignores other parameters", () => {
    const outcome = ok(postJson({ devices: [device(1)] }, `TENANTID=${TENANT}&grouptag=G&code=functionKey`));
    expect(outcome.request).toMatchObject({ tenantId: TENANT, groupTag: "G" });
  });

  it("refuses a parameter given twice with different values, and says a bad value came from the query", () => {
    expect(problemOf(postJson({ devices: [device(1)] }, `tenantId=${TENANT}&tenantId=fabrikam.com`)).errors).toEqual([
      { field: "tenantId", message: "given more than once in the query string, with different values" },
    ]);
    expect(problemOf(postJson({ devices: [device(1)] }, "tenantId=not%20a%20tenant")).errors).toEqual([
      { field: "tenantId", message: expect.stringMatching(/GUID or one of its domain names.*\(in the query string\)$/) },
    ]);
  });
});

describe("field rules", () => {
  const one = (extra: Record<string, unknown>) => problemOf(postJson({ devices: [device(1, extra)] })).errors;

  it.each([
    ["serialNumber", { serialNumber: undefined }, "required"],
    ["serialNumber", { serialNumber: "   " }, "required"],
    ["serialNumber", { serialNumber: 12345 }, "must be a string"],
    ["serialNumber", { serialNumber: "S".repeat(129) }, "must be at most 128 characters"],
    ["serialNumber", { serialNumber: "S\u0000N" }, "must not contain control characters or line breaks"],
    ["hardwareIdentifier", { hardwareIdentifier: null }, "required"],
    ["hardwareIdentifier", { hardwareIdentifier: "" }, "required"],
    ["productKey", { productKey: "K".repeat(65) }, "must be at most 64 characters"],
    ["productKey", { productKey: 42 }, "must be a string"],
    ["groupTag", { groupTag: "G".repeat(129) }, "must be at most 128 characters"],
    ["orderIdentifier", { orderIdentifier: "O".repeat(129) }, "must be at most 128 characters"],
    ["importId", { importId: "I".repeat(129) }, "must be at most 128 characters"],
    [
      "assignedUserPrincipalName",
      { assignedUserPrincipalName: `${"u".repeat(60)}@${"d".repeat(50)}.com` },
      "must be at most 113 characters",
    ],
  ])("%s: %j → %s", (field, extra, message) => {
    expect(one(extra)).toEqual([{ device: 0, field, message }]);
  });

  it.each([
    "alex wilber@contoso.com",
    "alex@contoso",
    "@contoso.com",
    "alex@@contoso.com",
    "alex",
    ".alex@contoso.com",
    "alex@contoso.com ",
  ])("refuses the UPN %j", (upn) => {
    // A trailing space is trimmed, so that one is fine.
    if (upn.endsWith(" ")) return void expect(ok(postJson({ devices: [device(1, { assignedUserPrincipalName: upn })] }))).toBeTruthy();
    expect(one({ assignedUserPrincipalName: upn })).toEqual([
      { device: 0, field: "assignedUserPrincipalName", message: "must be a user principal name such as user@contoso.com (no spaces)" },
    ]);
  });

  it.each([TENANT, TENANT.toUpperCase(), "contoso.onmicrosoft.com", "contoso.com"])("accepts the tenant %s", (tenantId) => {
    expect(ok(postJson({ tenantId, devices: [device(1)] })).request.tenantId).toBe(tenantId);
  });

  it.each(["contoso", "not a tenant", "1111-2222", "-contoso.com", 7])("refuses the tenant %j", (tenantId) => {
    expect(problemOf(postJson({ tenantId, devices: [device(1)] })).errors).toEqual([{ field: "tenantId", message: expect.any(String) }]);
  });

  it.each([
    ["whitespace inside", (h: string) => `${h.slice(0, 100)}\r\n ${h.slice(100, 2_000)}\t${h.slice(2_000)}`],
    ["its padding missing", (h: string) => h.replace(/=+$/, "")],
  ])("mends a hash with %s: the padded base64 without whitespace is what is kept", (_, mangle) => {
    const hash = makeHash(5, 3_001); // 3,001 bytes: ends in "=="
    expect(mangle(hash)).not.toBe(hash);
    expect(ok(postJson({ devices: [device(1, { hardwareIdentifier: mangle(hash) })] })).request.devices[0]?.hardwareIdentifier).toBe(hash);
  });

  it.each([
    ["a length no padding can mend", (h: string) => h.slice(0, 4_001), /not a multiple of 4/],
    ["the URL-safe alphabet", (h: string) => h.replace(/\+/g, "-").replace(/\//g, "_"), /URL-safe/],
    ["a stray character", (h: string) => `${h.slice(0, 10)}*${h.slice(11)}`, /outside the base64 alphabet/],
    ["padding in the middle", (h: string) => `${h.slice(0, 10)}=${h.slice(11)}`, /padding in the wrong place/],
    ["three padding characters", (h: string) => `${h.slice(0, -3)}===`, /more than two/],
  ])("refuses a hash with %s", (_, mangle, message) => {
    const hash = makeHash(5, 3_001); // 3,001 bytes: ends in "==" and holds '+' and '/'
    expect(mangle(hash)).not.toBe(hash);
    expect(one({ hardwareIdentifier: mangle(hash) })).toEqual([
      { device: 0, field: "hardwareIdentifier", message: expect.stringMatching(message), code: "hash-not-base64" },
    ]);
  });

  it("accepts hashes at the size limits and refuses them just outside", () => {
    for (const bytes of [limits.hashMinBytes, limits.hashMaxBytes]) {
      expect(ok(postJson({ devices: [device(1, { hardwareIdentifier: makeHash(1, bytes) })] })).request.devices).toHaveLength(1);
    }
    expect(one({ hardwareIdentifier: makeHash(1, limits.hashMinBytes - 1) })).toEqual([
      {
        device: 0,
        field: "hardwareIdentifier",
        message: "decodes to 63 bytes; a hardware hash decodes to between 64 and 16384 bytes",
        code: "hash-size",
      },
    ]);
    expect(one({ hardwareIdentifier: makeHash(1, limits.hashMaxBytes + 1) })?.[0]?.message).toMatch(/^decodes to 16385 bytes/);
    const tight = { ...limits, hashMinBytes: 2_000, hashMaxBytes: 2_500 };
    expect(problemOf(postJson({ devices: [device(1)] }, "", tight)).errors?.[0]?.message).toMatch(/between 2000 and 2500 bytes/);
  });

  it("lists every problem of every device, sorted by device, with a summary", () => {
    const p = problemOf(
      postJson({
        tenantId: "nope",
        devices: [
          device(0),
          { serialNumber: "", hardwareIdentifier: "not base64!" },
          device(2, { assignedUserPrincipalName: "not a upn" }),
          device(3, { hardwareIdentifier: "QUJD" }),
        ],
      }),
    );
    expect(p.errors).toEqual([
      { field: "tenantId", message: expect.any(String) },
      { device: 1, field: "serialNumber", message: "required" },
      { device: 1, field: "hardwareIdentifier", message: expect.stringMatching(/outside the base64 alphabet/), code: "hash-not-base64" },
      { device: 2, field: "assignedUserPrincipalName", message: expect.stringMatching(/user principal name/) },
      { device: 3, field: "hardwareIdentifier", message: expect.stringMatching(/^decodes to 3 bytes/), code: "hash-size" },
    ]);
    expect(p.detail).toBe("5 problems (1 in the batch itself, 4 in 3 devices); nothing was imported.");
    expect(p).toMatchObject({ problemCount: 5, invalidDeviceCount: 3 });
    expect(p.truncated).toBeUndefined();
  });

  it("caps the listed problems at 1000, saying how many there were", () => {
    const devices = Array.from({ length: 600 }, (_, i) => ({ serialNumber: "", hardwareIdentifier: `bad${i}` }));
    const p = problemOf(postJson({ devices }));
    expect(p.errors).toHaveLength(1_000);
    expect(p).toMatchObject({ truncated: true, problemCount: 1_200, invalidDeviceCount: 600 });
    expect(p.detail).toBe("1200 problems in 600 devices; nothing was imported.");
  });
});

describe("duplicates", () => {
  it("flags the same serial (any case, any surrounding space) or the same hash on the later device, naming the first", () => {
    const p = problemOf(
      postJson({
        devices: [
          device(1),
          device(2, { serialNumber: " sn-1 " }),
          device(3, { hardwareIdentifier: makeHash(1) }),
          device(4, { serialNumber: "SN-1" }),
        ],
      }),
    );
    expect(p.errors).toEqual([
      { device: 1, field: "serialNumber", message: "same serial number as device 0" },
      { device: 2, field: "hardwareIdentifier", message: "same hardware hash as device 0" },
      { device: 3, field: "serialNumber", message: "same serial number as device 0" },
    ]);
  });

  it("still finds duplicates when other devices have other problems", () => {
    const p = problemOf(postJson({ devices: [device(1, { assignedUserPrincipalName: "x" }), device(1)] }));
    expect(p.errors?.map((e) => [e.device, e.field])).toEqual([
      [0, "assignedUserPrincipalName"],
      [1, "serialNumber"],
      [1, "hardwareIdentifier"],
    ]);
  });
});

describe("batch size", () => {
  it("answers 400 no-devices for an empty batch", () => {
    expect(problemOf(postJson({ devices: [] }))).toMatchObject({ status: 400, type: ProblemType.noDevices });
  });

  it("accepts exactly maxDevices", () => {
    const small = { ...limits, maxDevices: 3 };
    expect(ok(postJson({ devices: [device(1), device(2), device(3)] }, "", small)).request.devices).toHaveLength(3);
  });

  it("answers 413 before validating any device, so a 50,000-device body fails fast", () => {
    const devices = Array.from({ length: 50_000 }, (_, i) => ({ serialnumber: i, hardwareIdentifier: "%%%" }));
    const started = performance.now();
    const p = problemOf(postJson({ devices }));
    const elapsed = performance.now() - started;
    expect(p).toMatchObject({ status: 413, type: ProblemType.tooManyDevices, deviceCount: 50_000, maxDevices: limits.maxDevices });
    expect(p.errors).toBeUndefined();
    expect(elapsed).toBeLessThan(1_000);
  });

  it("validates a full batch of 10,000 devices in reasonable time", () => {
    const devices = Array.from({ length: 10_000 }, (_, i) => device(i));
    const started = performance.now();
    expect(ok(postJson({ devices })).request.devices).toHaveLength(10_000);
    expect(performance.now() - started).toBeLessThan(10_000);
  });
});

describe("media types, sizes and encodings", () => {
  const body = JSON.stringify({ devices: [device(1)] });

  it.each(["text/plain", "application/xml", "multipart/form-data; boundary=x", "application/x-www-form-urlencoded", "", undefined])(
    "answers 415 for %j",
    (contentType) => {
      const p = problemOf(parse(contentType, body));
      expect(p).toMatchObject({
        status: 415,
        type: ProblemType.unsupportedMediaType,
        accepted: ["application/json", "application/*+json", "text/csv", "application/csv"],
      });
      expect(p.detail).toMatch(/application\/json.*text\/csv/);
    },
  );

  it.each([
    "application/json",
    "Application/JSON; charset=UTF-8",
    "application/vnd.partner.autopilot+json",
    'application/json;charset="utf-8"',
  ])("accepts %s", (contentType) => {
    expect(ok(parse(contentType, body)).source).toBe("json");
  });

  it("honours a declared charset when there is no BOM, and refuses one it cannot decode", () => {
    expect(ok(parse("application/json; charset=utf-16le", Buffer.from(body, "utf16le"))).request.devices).toHaveLength(1);
    expect(problemOf(parse("application/json; charset=klingon", body))).toMatchObject({ status: 415, title: "Unsupported charset" });
  });

  it("reads a JSON body with a UTF-8 or UTF-16 BOM", () => {
    expect(ok(parse("application/json", Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(body)]))).request.devices).toHaveLength(
      1,
    );
    expect(
      ok(parse("application/json", Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(body, "utf16le")]))).request.devices,
    ).toHaveLength(1);
  });

  it("answers 413 for a body over maxBodyBytes", () => {
    const p = problemOf(parse("application/json", body, "", { ...limits, maxBodyBytes: 100 }));
    expect(p).toMatchObject({ status: 413, type: ProblemType.bodyTooLarge, maxBodyBytes: 100 });
  });
});

describe("malformed JSON", () => {
  it("gives line, column and offset, computed from the offset Node reports", () => {
    const text = '{\n  "devices": [\n    { "serialNumber": "A", "hardwareIdentifier": "QUJD", }\n  ]\n}';
    const p = problemOf(parse("application/json", text));
    const offset = text.indexOf("}");
    expect(p).toMatchObject({ status: 400, type: ProblemType.malformedBody, line: 3, column: offset - text.indexOf("    {") + 1, offset });
    expect(p.detail).toBe(
      `The body is not valid JSON: expected double-quoted property name at line 3, column ${p.column} (offset ${offset}).`,
    );
  });

  it("finds the position itself where Node reports none, and never quotes the body", () => {
    const secret = makeHash(9);
    // Unquoted, so Node 20's message quotes the body and gives no position.
    const text = `{"devices": [\r\n  {"serialNumber": "A",\r\n   "hardwareIdentifier": X${secret}}]}`;
    const p = problemOf(parse("application/json", text));
    expect(p).toMatchObject({ line: 3, column: 26, offset: text.indexOf(secret) - 1 });
    expect(p.detail).toContain("unexpected character");
    expect(JSON.stringify(p)).not.toContain(secret.slice(0, 12));
  });

  it.each([
    ['{"devices": [', "unexpected end of input", 13],
    ["", undefined, undefined],
    ["   ", undefined, undefined],
    ['{"devices": []} x', "unexpected non-whitespace character after JSON", 16],
    ['{"a": "b', "unterminated string", 8],
  ])("%j", (text, reason, offset) => {
    const p = problemOf(parse("application/json", text));
    expect(p).toMatchObject({ status: 400, type: ProblemType.malformedBody });
    if (reason === undefined) expect(p.detail).toMatch(/empty/);
    else expect(p).toMatchObject({ offset, detail: expect.stringContaining(reason) });
  });
});
