import { describe, expect, it } from "vitest";
import { checkNewUser } from "./validate";

describe("checkNewUser", () => {
  it("accepts what the server accepts", () => {
    expect(checkNewUser({ username: "ada.l@lab-1", password: "correct horse", email: "" })).toEqual({});
    expect(checkNewUser({ username: "bo", password: "12345678", email: "bo@lab.example" })).toEqual({});
  });

  it("names every problem at once", () => {
    expect(checkNewUser({ username: "ada lovelace", password: "short", email: "ada" })).toEqual({
      username: "may hold only letters, digits and . _ - @",
      password: "must be at least 8 characters (and at most 1024)",
      email: "is not an email address",
    });
    expect(checkNewUser({ username: "", password: "ünïcödé!", email: "" })).toEqual({ username: "is required" });
    expect(checkNewUser({ username: "x".repeat(65), password: "p".repeat(1025), email: "" })).toEqual({
      username: "must be at most 64 characters",
      password: "must be at least 8 characters (and at most 1024)",
    });
  });
});
