/**
 * The version a health-check body reports (`{"status":"ok","version":"…"}`), or undefined when the
 * body is not such JSON. Both installers verify a release with it.
 */
export function versionFromHealthBody(body: string): string | undefined {
  try {
    const version = (JSON.parse(body) as { version?: unknown } | null)?.version;
    return typeof version === 'string' && version !== '' ? version : undefined;
  } catch {
    return undefined;
  }
}
