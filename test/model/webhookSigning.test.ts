import { createHmac } from "node:crypto";
import { describe, expect, it } from "vitest";
import { generateWebhookSecret, secretKey, signWebhook, webhookHeaders } from "../../src/model/webhookSigning.js";

describe("Standard Webhooks signatures", () => {
  it("matches the spec libraries' published vector", () => {
    // standard-webhooks/standard-webhooks, libraries/javascript/src/webhook.test.ts, "sign function works".
    const signature = signWebhook(
      "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
      "msg_p5jXN8AQM9LWM0D4loKWxJek",
      1614265330,
      '{"test": 2432232314}',
    );
    expect(signature).toBe("v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
  });

  it("accepts the secret with or without its whsec_ prefix", () => {
    const body = '{"type":"import.completed"}';
    expect(signWebhook("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "evt_1", 1700000000, body)).toBe(
      signWebhook("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "evt_1", 1700000000, body),
    );
  });

  it("signs id, timestamp and body with the decoded key, verifiable independently", () => {
    const secret = generateWebhookSecret();
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]+=*$/);
    expect(secretKey(secret)).toHaveLength(32);
    const body = JSON.stringify({ type: "import.completed", data: { id: "b" } });
    const headers = webhookHeaders(secret, "evt_abc", 1732838400, body);
    const expected = createHmac("sha256", Buffer.from(secret.slice(6), "base64"))
      .update(`evt_abc.1732838400.${body}`)
      .digest("base64");
    expect(headers).toEqual({ "webhook-id": "evt_abc", "webhook-timestamp": "1732838400", "webhook-signature": `v1,${expected}` });
    // Any change to the signed content changes the signature.
    expect(signWebhook(secret, "evt_abc", 1732838401, body)).not.toBe(headers["webhook-signature"]);
    expect(signWebhook(secret, "evt_abd", 1732838400, body)).not.toBe(headers["webhook-signature"]);
    expect(signWebhook(secret, "evt_abc", 1732838400, body + " ")).not.toBe(headers["webhook-signature"]);
  });

  it("signs with every secret during a rotation, space-separated, each verifiable on its own", () => {
    const [current, previous] = [generateWebhookSecret(), generateWebhookSecret()];
    const body = '{"type":"import.completed"}';
    const signature = webhookHeaders([current, previous], "evt_r", 1732838400, body)["webhook-signature"]!;
    expect(signature.split(" ")).toEqual([
      signWebhook(current, "evt_r", 1732838400, body),
      signWebhook(previous, "evt_r", 1732838400, body),
    ]);
  });

  it("generates a different secret each time", () => {
    expect(generateWebhookSecret()).not.toBe(generateWebhookSecret());
  });
});
