// Credentials never reach a log line, an error message or GET /models: wherever a URL (or a value
// meant as one) is shown, its credentials are cut out first, whatever their shape.
//
// A password may hold `/`, `@`, `:`, `+`, `=`, spaces or percent-encoding, and a value that failed
// validation may not parse as a URL at all, so nothing here asks a URL parser where the
// credentials end (`http://u:12/ab@host` parses as host `u`, port 12, path `/ab@host`). The rule
// is on the text: everything from the start of the authority (after a known `scheme://`, else
// from the start: a password may itself begin `ab://`) to the value's LAST `@` is credentials.
// A query string or a fragment may carry a token (`?api_key=…`): from the first `?` or `#` on,
// nothing is shown either. When that mark comes before the last `@`, either may be the secret's:
// nothing after the scheme is shown.

/** The schemes shown before `[redacted]`: ours and the common ones, never text of the value's own. */
const scheme = /^\s*(https?|nats|tls|wss?|ftps?):\/\//i;

/** The value with any `user:password@` / `token@` and any query or fragment replaced by `[redacted]`. */
export function redactUrl(value: string): string {
  const from = scheme.exec(value)?.[0].length ?? 0;
  const at = value.lastIndexOf('@');
  const mark = value.search(/[?#]/);
  if (at >= 0 && mark >= 0 && mark < at) return `${value.slice(0, from)}[redacted]`;
  let shown = at >= 0 ? `${value.slice(0, from)}[redacted]${value.slice(at)}` : value;
  const query = shown.search(/[?#]/);
  if (query >= 0) shown = `${shown.slice(0, query)}${shown[query]}[redacted]`;
  return shown;
}

/**
 * A validation message with every value it quotes redacted, and the sentence around them kept
 * (`Unrecognized key: "http://[redacted]@host"`): the reader still sees what was refused and why.
 */
export function redactQuoted(message: string): string {
  return message.replace(/"((?:[^"\\]|\\.)*)"/g, (_, inner: string) => `"${redactUrl(inner)}"`);
}

/**
 * Whether a URL's user and password decode (the HTTP backend sends them decoded, as a Basic
 * header): `%zz` is not percent-encoding. Checked where URLs are validated, so that no thread
 * ever meets one it cannot use.
 */
export function credentialsDecode(url: string): boolean {
  try {
    const {username, password} = new URL(url);
    decodeURIComponent(username);
    decodeURIComponent(password);
    return true;
  } catch {
    return false;
  }
}

/**
 * A JSON.parse error without the excerpt of the text it quotes (`Unexpected token 'x', "{"url":
 * "http://u:secret@…" is not valid JSON`): only where it failed.
 */
export function jsonErrorWhere(error: unknown): string {
  const message = error instanceof Error ? error.message : '';
  const where = /at position \d+( \(line \d+ column \d+\))?/.exec(message);
  return where ? `not valid JSON ${where[0]}` : 'not valid JSON';
}

/** For a URL whose user:password@ is not percent-encoding (`%zz`): said without echoing it. */
export const credentialsMessage =
  'a URL whose user:password@ part is valid percent-encoding (write a literal % as %25)';

/**
 * The text with every occurrence of each secret replaced by `[redacted]`, longest first (a server
 * may echo what it was sent: a Basic header, the password it decoded from it, or that password
 * percent-encoded). Empty secrets are ignored.
 */
export function scrubSecrets(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const secret of [...secrets].filter((s) => s !== '').sort((a, b) => b.length - a.length))
    out = out.replaceAll(secret, '[redacted]');
  return out;
}

/**
 * What may show a URL's credentials once the client sends them as `Authorization: Basic <token>`:
 * the user and the password, each as written (percent-encoded) and decoded, and the token. The
 * user too: `https://TOKEN@host` carries its secret there. Empty when the URL has none.
 */
export function credentialForms(url: URL): string[] {
  if (!url.username && !url.password) return [];
  const user = safeDecode(url.username);
  const password = safeDecode(url.password);
  const token = Buffer.from(`${user}:${password}`).toString('base64');
  return [url.username, user, url.password, password, encodeURIComponent(password), token];
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}
