// Pages by path under /console/, so that messages and people can link to them
// (`/console/dashboard`, `/console/admin/notifications`, ...).

export const BASE = "/console";

export const route = $state({ path: pageOf(location.pathname), search: location.search });

function pageOf(pathname: string): string {
  const page = pathname.startsWith(BASE) ? pathname.slice(BASE.length) : pathname;
  return page === "" || page === "/" ? "/dashboard" : page;
}

export function navigate(to: string, replace = false): void {
  const full = to.startsWith(BASE) ? to : `${BASE}${to}`;
  const [pathname, query] = full.split("?", 2);
  if (replace) history.replaceState(null, "", full);
  else history.pushState(null, "", full);
  route.path = pageOf(pathname);
  route.search = query ? `?${query}` : "";
}

addEventListener("popstate", () => {
  route.path = pageOf(location.pathname);
  route.search = location.search;
});
