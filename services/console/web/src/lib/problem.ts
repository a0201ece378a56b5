// Errors shown in words: the problem+json `detail` (with the per-field errors), else the status.

export class ApiProblem extends Error {
  constructor(
    public status: number,
    public code: string,
    message: string,
  ) {
    super(message);
  }
}

interface ProblemBody {
  title?: string;
  detail?: string;
  code?: string;
  errors?: { field?: string; index?: number; message?: string }[];
}

export async function problemOf(response: Response): Promise<ApiProblem> {
  let body: ProblemBody = {};
  try {
    body = (await response.json()) as ProblemBody;
  } catch {
    // Not JSON (a proxy's page): the status says enough.
  }
  const parts = [body.detail ?? body.title ?? `${response.status} ${response.statusText}`];
  for (const error of body.errors ?? []) {
    const where = error.field ?? (error.index !== undefined ? `#${error.index}` : "");
    parts.push(where ? `${where}: ${error.message ?? ""}` : (error.message ?? ""));
  }
  return new ApiProblem(response.status, body.code ?? "http_error", parts.filter(Boolean).join("; "));
}
