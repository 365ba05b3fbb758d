// Options shared by the HTTP endpoints of a listener (RFC 7395 WebSocket, XEP-0206 BOSH): the URL path and
// the list of allowed browser origins, checked with their YAML path.
type Fail = (p: string, problem: string) => never;

/** A URL path of the endpoint, not one another HTTP service of the listener owns. */
export function endpointPath(raw: unknown, p: string, example: string, fail: Fail): string {
  if (typeof raw !== 'string' || !/^\/[A-Za-z0-9._~!$&'()*+,;=:@%/-]*$/.test(raw)) fail(`${p}.path`, `must be a URL path starting with "/" (e.g. ${example})`);
  const path = raw as string;
  if (path === '/metrics' || path === '/api' || path.startsWith('/api/') || path.startsWith('/.well-known/')) fail(`${p}.path`, `"${path}" is taken by another HTTP service`);
  return path;
}

/** Allowed origins: each exactly scheme://host[:port], as browsers send it (RFC 6454 §6.2). */
export function originList(raw: unknown, p: string, fail: Fail): string[] {
  if (!Array.isArray(raw)) fail(`${p}.origins`, 'must be a list of origins such as https://chat.example.org');
  return (raw as unknown[]).map((o, i) => {
    let u: URL | null = null;
    try {
      u = typeof o === 'string' ? new URL(o) : null;
    } catch { /* reported below */ }
    if (!u || (u.protocol !== 'http:' && u.protocol !== 'https:') || u.origin !== (o as string).replace(/\/$/, '')) {
      fail(`${p}.origins[${i}]`, `"${String(o)}" is not an origin (scheme://host[:port], e.g. https://chat.example.org)`);
    }
    return u!.origin;
  });
}
