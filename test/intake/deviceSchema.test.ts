import { describe, expect, expectTypeOf, it } from "vitest";
import { z } from "zod";
import {
  createImportRequestSchema,
  deviceSubmissionSchema,
  graphImportActionSchema,
  importRequestSchema,
  type DeviceSubmission,
  type ImportRequest,
} from "../../src/intake/deviceSchema.js";
import { makeHash, withHashFacts } from "../support/devices.js";

describe("the schemas as a public API", () => {
  it("infer exactly the documented types", () => {
    expectTypeOf<DeviceSubmission>().toEqualTypeOf<{
      serialNumber: string;
      hardwareIdentifier: string;
      productKey?: string | undefined;
      groupTag?: string | undefined;
      assignedUserPrincipalName?: string | undefined;
      orderIdentifier?: string | undefined;
      importId?: string | undefined;
      manufacturer?: string | undefined;
      model?: string | undefined;
      warnings?: "no-tpm"[] | undefined;
    }>();
    expectTypeOf<ImportRequest>().toEqualTypeOf<{
      tenantId?: string;
      orderIdentifier?: string;
      groupTag?: string;
      callbackUrl?: string;
      hashCheck?: "off";
      devices: DeviceSubmission[];
    }>();
  });

  it("can be used directly: parse applies the batch fields and drops the ignored ones", () => {
    const request = importRequestSchema.parse({
      groupTag: "G",
      devices: [{ id: "x", state: {}, serialNumber: "A", hardwareIdentifier: makeHash(1) }],
    });
    expect(request).toEqual({
      groupTag: "G",
      devices: [withHashFacts({ serialNumber: "A", hardwareIdentifier: makeHash(1), groupTag: "G" })],
    });
    expect(
      deviceSubmissionSchema.parse({ "@odata.type": "#x", serialNumber: "A", hardwareIdentifier: makeHash(1), productKey: "" }),
    ).toEqual(withHashFacts({ serialNumber: "A", hardwareIdentifier: makeHash(1) }));
    expect(
      graphImportActionSchema.safeParse({
        importedWindowsAutopilotDeviceIdentities: [{ serialNumber: "A", hardwareIdentifier: makeHash(1) }],
      }).success,
    ).toBe(true);
  });

  it("take their batch and hash limits from IntakeLimits", () => {
    // hashCheck off: three bytes are no hardware hash, and only the size rule is under test here.
    const schema = createImportRequestSchema({ maxDevices: 1, maxBodyBytes: 1, hashMinBytes: 1, hashMaxBytes: 3 }, "off");
    expect(schema.safeParse({ devices: [{ serialNumber: "A", hardwareIdentifier: "QUJD" }] }).success).toBe(true);
    expect(schema.safeParse({ devices: [{ serialNumber: "A", hardwareIdentifier: "QUJDRA==" }] }).success).toBe(false);
    expect(
      schema.safeParse({
        devices: [
          { serialNumber: "A", hardwareIdentifier: "QUJD" },
          { serialNumber: "B", hardwareIdentifier: "QUJE" },
        ],
      }).success,
    ).toBe(false);
  });

  it("render as JSON Schema for the OpenAPI document, with descriptions and limits", () => {
    const request = z.toJSONSchema(importRequestSchema, { io: "input" }) as {
      properties: Record<
        string,
        {
          description?: string;
          items?: { properties: Record<string, Record<string, unknown>>; required: string[]; additionalProperties: boolean };
        }
      >;
      additionalProperties: boolean;
    };
    expect(request.additionalProperties).toBe(false);
    expect(Object.keys(request.properties)).toEqual([
      "tenantId",
      "orderIdentifier",
      "groupTag",
      "callbackUrl",
      "followUntil",
      "onExisting",
      "hashCheck",
      "devices",
    ]);
    expect(request.properties.callbackUrl).toMatchObject({
      type: "string",
      format: "uri",
      description: expect.stringContaining("Standard Webhooks"),
    });
    const device = request.properties.devices!.items!;
    expect(device.required).toEqual(["serialNumber", "hardwareIdentifier"]);
    expect(device.additionalProperties).toBe(false);
    expect(device.properties.serialNumber).toMatchObject({ type: "string", maxLength: 128, description: expect.any(String) });
    expect(device.properties.hardwareIdentifier).toMatchObject({
      contentEncoding: "base64",
      description: expect.stringContaining("64-16384 bytes"),
    });
    expect(device.properties.assignedUserPrincipalName).toMatchObject({ maxLength: 113 });
    for (const [name, property] of Object.entries(device.properties)) expect(property.description, name).toBeTruthy();
    expect(() => z.toJSONSchema(graphImportActionSchema, { io: "input" })).not.toThrow();
  });
});
