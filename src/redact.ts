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
 * percent-encoded), and the start of one (3 characters or more) cut short just before a `…`.
 * Empty secrets are ignored.
 */
export function scrubSecrets(text: string, secrets: readonly string[]): string {
  const sorted = [...secrets].filter((s) => s !== '').sort((a, b) => b.length - a.length);
  let out = text;
  for (const secret of sorted) out = out.replaceAll(secret, '[redacted]');
  // A quoted value cut short ends `…`: the start of a secret just before it is a secret too.
  if (!out.includes('…')) return out;
  return out.replace(/[^…]{1,256}…/g, (cut) => {
    const head = cut.slice(0, -1);
    for (const secret of sorted)
      for (let k = Math.min(secret.length - 1, head.length); k >= 3; k--)
        if (head.endsWith(secret.slice(0, k))) return `${head.slice(0, -k)}[redacted]…`;
    return cut;
  });
}

/** A user name shorter than this is not cut out of texts when a password comes with it ("admin" is a word, not a secret). */
const shortestSecretUser = 6;

/** Query parameters whose value is cut out of texts whatever its length; any other value from 6 characters on. */
const secretParameter = /key|token|secret|pass|auth|sig|cred/i;

/**
 * What may show a URL's secrets once the client sends its credentials as
 * `Authorization: Basic <token>` and its query string as it is: the password as written
 * (percent-encoded), decoded, encoded again and in base64 alone; the token; the user likewise
 * when it is the only credential (`https://TOKEN@host`) or 6 characters or more; and the query
 * string whole and each of its values (a value under 6 characters only when its name says key,
 * token, secret, pass, auth, sig or cred: `?v=1` must not turn every 1 into `[redacted]`).
 * Empty when the URL has none.
 */
export function credentialForms(url: URL): string[] {
  const forms: string[] = [];
  if (url.username || url.password) {
    const user = safeDecode(url.username);
    const password = safeDecode(url.password);
    forms.push(Buffer.from(`${user}:${password}`).toString('base64'));
    if (url.password)
      forms.push(url.password, password, encodeURIComponent(password), Buffer.from(password).toString('base64'));
    if (!url.password || user.length >= shortestSecretUser) forms.push(url.username, user, encodeURIComponent(user));
  }
  if (url.search.length > 1) {
    if (url.search.length > shortestSecretUser) forms.push(url.search.slice(1));
    for (const part of url.search.slice(1).split('&')) {
      const [name, raw = ''] = part.split(/=(.*)/s);
      const value = safeDecode(raw.replaceAll('+', ' '));
      if (raw.length >= shortestSecretUser || (raw !== '' && secretParameter.test(safeDecode(name))))
        forms.push(raw, value, encodeURIComponent(value));
    }
  }
  return [...new Set(forms.filter((form) => form !== ''))];
}

/**
 * The error with every secret cut out of its message and stack, and of its causes' (and an
 * AggregateError's errors'), a few levels deep; changed in place, so that its class and code stay.
 * Where a backend client's errors leave it: no message written later can forget to.
 */
export function scrubError<T>(error: T, secrets: readonly string[], depth = 0): T {
  if (secrets.length === 0 || depth > 4) return error;
  if (typeof error === 'string') return scrubSecrets(error, secrets) as T;
  if (!(error instanceof Error)) return error;
  const message = scrubSecrets(String(error.message), secrets);
  const stack = typeof error.stack === 'string' ? scrubSecrets(error.stack, secrets) : undefined;
  try {
    // An own property, also over a getter (a DOMException's message).
    Object.defineProperty(error, 'message', {value: message, writable: true, configurable: true});
    Object.defineProperty(error, 'stack', {value: stack, writable: true, configurable: true});
  } catch {
    const copy = Object.assign(new Error(message), {name: error.name, stack});
    return scrubError(Object.assign(copy, {cause: error.cause}), secrets, depth) as T;
  }
  if (error.cause !== undefined) error.cause = scrubError(error.cause, secrets, depth + 1);
  if (error instanceof AggregateError)
    error.errors = error.errors.map((e: unknown) => scrubError(e, secrets, depth + 1));
  return error;
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}
