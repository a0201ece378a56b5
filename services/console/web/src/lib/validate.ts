// The new-user form checked before it is sent, by the same rules the server applies
// (services/experiments/src/routes/users.rs): every problem at once, per field. The server
// checks again; this only saves a round trip and says it in place.

export const MIN_PASSWORD_CHARS = 8;
export const MAX_PASSWORD_CHARS = 1024;
export const MAX_USERNAME_CHARS = 64;

export interface NewUserForm {
  username: string;
  password: string;
  email: string;
}

export type Problems = Partial<Record<keyof NewUserForm, string>>;

export function checkNewUser(form: NewUserForm): Problems {
  const problems: Problems = {};
  const username = form.username;
  if (username.length === 0) problems.username = "is required";
  else if (username.length > MAX_USERNAME_CHARS) problems.username = `must be at most ${MAX_USERNAME_CHARS} characters`;
  else if (!/^[A-Za-z0-9._@-]+$/.test(username)) problems.username = "may hold only letters, digits and . _ - @";
  const chars = [...form.password].length;
  if (chars < MIN_PASSWORD_CHARS || chars > MAX_PASSWORD_CHARS) {
    problems.password = `must be at least ${MIN_PASSWORD_CHARS} characters (and at most ${MAX_PASSWORD_CHARS})`;
  }
  if (form.email !== "" && !form.email.includes("@")) problems.email = "is not an email address";
  return problems;
}
