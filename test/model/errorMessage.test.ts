import { describe, expect, it } from "vitest";
import { errorMessage } from "../../src/model/errorMessage.js";

describe("errorMessage", () => {
  it("is an Error's message, a subclass's too", () => {
    expect(errorMessage(new Error("storage unreachable"))).toBe("storage unreachable");
    expect(errorMessage(new RangeError("out of range"))).toBe("out of range");
    expect(errorMessage(new Error(""))).toBe("");
  });

  it("is anything else as a string", () => {
    expect(errorMessage("thrown text")).toBe("thrown text");
    expect(errorMessage(404)).toBe("404");
    expect(errorMessage(undefined)).toBe("undefined");
    expect(errorMessage(null)).toBe("null");
  });
});
