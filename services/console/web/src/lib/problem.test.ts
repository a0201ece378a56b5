import { describe, expect, it } from "vitest";
import { problemOf } from "./problem";

describe("problemOf", () => {
  it("words a problem+json answer with its detail and every field error", async () => {
    const body = { code: "invalid_field", detail: "2 fields are wrong", errors: [{ field: "name", message: "is empty" }, { field: "role", message: "no such role" }] };
    const problem = await problemOf(new Response(JSON.stringify(body), { status: 422 }));
    expect([problem.status, problem.code, problem.message]).toEqual([422, "invalid_field", "2 fields are wrong; name: is empty; role: no such role"]);
  });

  it("falls back to the status when the answer is no problem document", async () => {
    const problem = await problemOf(new Response("<html>bad gateway</html>", { status: 502, statusText: "Bad Gateway" }));
    expect([problem.code, problem.message]).toEqual(["http_error", "502 Bad Gateway"]);
  });
});
