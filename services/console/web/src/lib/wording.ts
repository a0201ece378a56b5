// What an error says to a person: an ApiProblem's words, else the error's message.
export function wording(problem: unknown): string {
  return problem instanceof Error ? problem.message : String(problem);
}
