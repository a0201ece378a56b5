import { navigate } from "./router.svelte";

/** An in-app link's click: navigate without reloading (a modified click opens a tab as usual). */
export function follow(event: MouseEvent): void {
  if (event.ctrlKey || event.metaKey || event.shiftKey || event.button !== 0) return;
  const href = (event.currentTarget as HTMLAnchorElement).getAttribute("href");
  if (!href) return;
  event.preventDefault();
  navigate(href);
}
