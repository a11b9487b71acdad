// Credentials never reach a log line or an error message: a URL's user:password@ (or token@) part
// is replaced wherever a URL is shown.

/** The URL (or any text holding URLs) with every `scheme://userinfo@` shown as `scheme://[redacted]@`. */
export function redactUrl(text: string): string {
  return text.replace(/([a-z][a-z0-9+.-]*:\/\/)[^/@\s]+@/gi, '$1[redacted]@');
}
