// The console's only way to the server: same-origin fetches with the session's access token,
// one refresh and retry on a 401, and every error turned into words (ApiProblem).

import { ApiProblem, problemOf } from "./problem";
import { Session, type TokenPair } from "./session";
import type { components } from "./api-types";

export type Schemas = components["schemas"];

async function refresher(refreshToken: string): Promise<TokenPair | null> {
  const response = await fetch("/api/v1/auth/refresh", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ refresh_token: refreshToken }),
  });
  return response.ok ? ((await response.json()) as TokenPair) : null;
}

export const session = new Session(sessionStorage, refresher);

/** Called when the session is over (refused refresh): the app shows the sign-in page. */
let onSignedOut: () => void = () => {};
export function whenSignedOut(callback: () => void): void {
  onSignedOut = callback;
}

export async function signIn(username: string, password: string): Promise<void> {
  const response = await fetch("/api/v1/auth/login", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ username, password }),
  });
  if (!response.ok) throw await problemOf(response);
  session.start((await response.json()) as TokenPair);
}

export function signOut(): void {
  session.end();
}

async function call<T>(method: string, path: string, body?: unknown): Promise<T> {
  const send = (token: string) =>
    fetch(path, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  let token = await session.accessToken();
  if (!token) {
    onSignedOut();
    throw new ApiProblem(401, "unauthorized", "Your session has ended: sign in again.");
  }
  let response = await send(token);
  if (response.status === 401) {
    token = await session.refresh();
    if (!token) {
      onSignedOut();
      throw new ApiProblem(401, "unauthorized", "Your session has ended: sign in again.");
    }
    response = await send(token);
  }
  if (!response.ok) throw await problemOf(response);
  if (response.status === 204) return undefined as T;
  return (await response.json()) as T;
}

export const api = {
  get: <T>(path: string) => call<T>("GET", path),
  post: <T>(path: string, body: unknown = {}) => call<T>("POST", path, body),
  put: <T>(path: string, body: unknown) => call<T>("PUT", path, body),
  patch: <T>(path: string, body: unknown) => call<T>("PATCH", path, body),
  delete: <T>(path: string) => call<T>("DELETE", path),
};

/** Downloads a file of the API (with the session's token) and hands it to the browser. */
export async function download(path: string, filename: string): Promise<void> {
  const token = await session.accessToken();
  const response = await fetch(path, { headers: token ? { authorization: `Bearer ${token}` } : {} });
  if (!response.ok) throw await problemOf(response);
  const url = URL.createObjectURL(await response.blob());
  const link = Object.assign(document.createElement("a"), { href: url, download: filename });
  link.click();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

/** The operators' live socket (`/api/v1/ws/live`), the token sent as a subprotocol. */
export async function liveSocket(): Promise<WebSocket | null> {
  const token = await session.accessToken();
  if (!token) return null;
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  return new WebSocket(`${scheme}//${location.host}/api/v1/ws/live`, ["bearer", token]);
}
