import { z } from "zod";

/** RFC 9457 problem details as every error of this API carries them (see problem.ts); the OpenAPI document's `Problem`. */
export const fieldProblemSchema = z.object({
  device: z.number().int().min(0).optional().describe("The device's 0-based index in the batch."),
  line: z.number().int().min(1).optional().describe("Its CSV line."),
  field: z.string(),
  message: z.string(),
  code: z
    .string()
    .optional()
    .describe(
      "A stable code for the kind of problem, where there is one: hash-not-base64, hash-wrong-magic, hash-truncated, hash-bad-record-end, hash-checksum-mismatch, hash-size, serial-contradicts-hash.",
    ),
});

export const problemDetailsSchema = z
  .object({
    type: z.url().describe("Stable per kind of error: branch on this, not on the prose."),
    title: z.string(),
    status: z.number().int().min(400).max(599),
    // Generators that support it (Kiota) make this the message of the exception a client throws.
    detail: z.string().optional().meta({ description: "What went wrong, for a person.", "x-ms-primary-error-message": true }),
    instance: z.string().optional(),
    errors: z.array(fieldProblemSchema).optional().describe("Validation problems: every one found, not only the first."),
  })
  .loose()
  .describe("RFC 9457 problem details (application/problem+json).");
