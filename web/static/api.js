// Shared by the plain pages (sign-in, auditor): element lookup and a JSON fetch on the session
// cookie that throws the server's problem detail on an error status.
export const $ = (id) => document.getElementById(id);

export async function api(path, options = {}) {
  const res = await fetch(path, {
    credentials: 'same-origin',
    headers: options.body ? { 'content-type': 'application/json' } : {},
    ...options,
  });
  const body = res.status === 204 ? null : await res.json().catch(() => null);
  if (!res.ok) throw Object.assign(new Error(body?.detail ?? res.statusText), { status: res.status });
  return body;
}
