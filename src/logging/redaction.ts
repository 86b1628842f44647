import { setOwn } from "../internal/json.js";
/** Replaces a redacted value. */
export const REDACTED = "[redacted]";

// The library's loggers that redact every line themselves (see redacting): by identity, not by a
// property, so that a copy with a method of the application's (`{ ...jsonLogger(), error }`) is not one.
const selfRedacting = /* @__PURE__ */ new WeakSet<object>();

/** Marks a logger of the library's that redacts every line itself: the library's logger leaves its lines as they are. */
export function redacting<T extends object>(logger: T): T {
  selfRedacting.add(logger);
  return logger;
}

/** Whether `logger` is one of the library's that redacts every line itself. */
export function redactsItself(logger: object): boolean {
  return selfRedacting.has(logger);
}

/**
 * Field names whose values are never written: a field is redacted when its name, compared without
 * case, `-` or `_`, contains one of these (so `x-api-key`, `dbPassword` and `AWS_SESSION_TOKEN` are too).
 */
export const DEFAULT_REDACTED_FIELDS: readonly string[] = [
  "password",
  "passwd",
  "secret",
  "token",
  "apikey",
  "authorization",
  "cookie",
  "credential",
  "accesskey",
  "privatekey",
  "signature",
  // As the text rules read them (`pwd=` in an ODBC or libpq string); a TLS option's key passphrase.
  "pwd",
  "passphrase",
];

// Credentials that turn up inside text (error messages, URLs): a connection URL's password, a bearer
// token, a SigV4 authorization header's credential and signature. The URL pattern starts at `://`,
// not at the scheme: a scheme-like prefix is tried at every letter of a text, and each try ran to the
// end of a letter run, so a long word (a client's input quoted in an error) took quadratic time.
// The user may be empty (`redis://:password@cache`), and the password runs to the last `@` of the
// authority, as a URL parser reads it: `postgres://app:p@ss@db` has the password `p@ss`, all of it masked.
const URL_USER = /:\/\/[^:/?#\s@]*:/g;
const AUTHORITY_PASSWORD = /[^\s/?#]*@/y;
// A password a URL parser would not read, written unencoded by hand (`postgres://u:pa#ss@db`, `u:p/w@db`,
// `u:p w@db`): after `user:`, up to the first `@` on the line (and on to the authority's last `@`), never
// past the next URL's `://`. Digits right before `/`, `?`, `#`, a blank or the end are a port (`host:5432/db`),
// as a URL parser reads them, not a password: `http://h:8080/users/@me` keeps its path.
const PORT = /\d*(?=[/?#\s]|$)/y;
const UNENCODED_PASSWORD = /(?:[^@\r\n:]|:(?!\/\/))*@/y;
const BEARER = /\b(bearer|basic)\s+[a-z0-9._~+/=-]+/gi;
// A key=value credential (libpq connection strings, query strings, form bodies). The key is a whole run
// of word characters and `-` that contains a credential word, as field names are judged: `access_token`,
// `client_secret` and `db_password` are credentials too (a pattern anchored at the word itself missed
// them, `_` being a word character). The lookbehind starts a key only where a run starts, so each run is
// tried once. The value is looked at only for a credential's key: quoted (with libpq's backslash escapes,
// so `'a\'b'` is one value) or up to the next separator.
const KEY = /(?<![\w-])([\w-]+)(\s*=\s*)/g;
const CREDENTIAL_KEY = /pass(?:word|wd|phrase)|pwd|secret|token|api[_-]?key/i;
const VALUE = /'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"|[^\s&;,]+/y;
const SIGV4 = /\b(Credential|Signature|X-Amz-Signature|X-Amz-Credential|X-Amz-Security-Token)=[^,&\s]+/gi;
// An HTTP header that carries a credential, as a request dump or an HTTP client's error writes it
// (`Authorization: AWS4-HMAC-SHA256 …`, `Cookie: sid=…`, `x-api-key: …`): masked to the end of its line,
// whatever the value (a bare token, several cookies); a known scheme before it is kept, as BEARER keeps
// it. Only these names: a colon after any word is how every ValidationError writes an issue's path.
const HEADER =
  /(?<![\w-])((?:proxy-)?authorization|(?:set-)?cookie|x-api-key|api-key|x-auth-token|x-amz-security-token)([ \t]*:[ \t]*(?:(?:bearer|basic|digest|token|negotiate|aws4-hmac-sha256)[ \t]+)?)[^\r\n]+/gi;
// A quoted credential after a colon: a JSON text (`{"password":"…"}`, a response body quoted in an
// error) or an inspected object (`secretAccessKey: '…'`). The key is judged as a field name is
// (isRedactedField); the value is quoted, or after a quoted key a bare JSON value, or after a bare key a
// word standing alone (LINE_VALUE), so that an issue's path such as `password: too short` keeps its words.
// Keys start where a run starts, as KEY.
const COLON_KEY = /(?<![\w.-])(["']?)([\w-]+)\1[ \t]*:[ \t]*/g;
const QUOTED = /"(?:[^"\\\r\n]|\\.)*"|'(?:[^'\\\r\n]|\\.)*'/y;
const BARE = /[^\s,}\]"']+/y;
// An unquoted value after an unquoted credential key (`password: hunter2` in a config dump, `{ token: abc }`)
// is one word standing alone: it ends the line, or a `,`, `;`, `}` or `]` ends it (inside it, such a
// character is the value's own). An issue's message after its path runs on in words (`password: Invalid
// length`, `token: must be a string`) and is kept; a one-word message (`token: Required;`) is masked.
// (A run of those characters is taken whole, as an atomic group would: trying each shorter run took
// quadratic time on a long one.)
const LINE_VALUE = /(?:[^\s,;}\]]+|(?=([,;}\]]+))\1(?=[^\s,;}\]]))+/y;
const STANDS_ALONE = /[ \t]*(?:[\r\n,;}\]]|$)/y;
const NO_NAMES: ReadonlySet<string> = new Set();
// A PEM private key (a logged TLS option's `key`, a key quoted in an error): its body to its own END line,
// or to the end of the text when there is none. The armour is kept, to say what was there; certificates
// and public keys are not secrets and are kept whole. The body is matched lazily up to the END line: a
// text of many BEGIN lines and no END is consumed by the first, read once.
const PRIVATE_KEY = /(-----BEGIN ((?:[A-Z0-9]+ )*PRIVATE KEY)-----)[\s\S]*?(?=-----END \2-----|$)/g;
// A JSON Web Token wherever it stands (`token eyJ…`, `id_token is eyJ…`: no `=`, colon or scheme before it):
// base64url parts joined by dots, the first a JSON object's (`{"` encodes as `eyJ`), three of them (a signed
// token, its payload or signature possibly empty) or five (an encrypted one). A token starts only where a run
// of base64url characters starts, so each run is tried once; the dots bound every part, so no part is
// re-read past the next dot.
const JWT = /(?<![\w-])eyJ[\w-]+\.[\w-]*\.[\w-]*(?:\.[\w-]+){0,2}/g;
// After a word that ran on (see redactColonPairs): a colon ahead, so the word ends in a key of its own.
const COLON_AHEAD = /[ \t]*:/y;

export function normalizeFieldName(name: string): string {
  return name.toLowerCase().replace(/[-_]/g, "");
}

/** Masks credentials found inside text. */
export function redactText(text: string): string {
  const unkeyed = text.includes("PRIVATE KEY-----") ? text.replace(PRIVATE_KEY, `$1${REDACTED}`) : text;
  const masked = redactUrlPasswords(unkeyed)
    .replace(BEARER, `$1 ${REDACTED}`)
    .replace(SIGV4, `$1=${REDACTED}`)
    .replace(HEADER, `$1$2${REDACTED}`);
  const tokenless = masked.includes("eyJ") ? masked.replace(JWT, REDACTED) : masked;
  const paired = tokenless.includes("=") ? redactPairs(tokenless) : tokenless;
  return paired.includes(":") ? redactColonPairs(paired) : paired;
}

/** Masks the password of every `scheme://user:password@host` (see URL_USER). */
function redactUrlPasswords(text: string): string {
  let out = "";
  let from = 0;
  URL_USER.lastIndex = 0;
  for (let user = URL_USER.exec(text); user !== null; user = URL_USER.exec(text)) {
    const start = URL_USER.lastIndex;
    let end = passwordEnd(text, AUTHORITY_PASSWORD, start);
    if (end === undefined) {
      PORT.lastIndex = start;
      if (PORT.test(text)) continue;
      end = passwordEnd(text, UNENCODED_PASSWORD, start);
      if (end === undefined) continue;
      end = passwordEnd(text, AUTHORITY_PASSWORD, end + 1) ?? end;
    }
    out += `${text.slice(from, start)}${REDACTED}`;
    from = end;
    URL_USER.lastIndex = end;
  }
  return from === 0 ? text : out + text.slice(from);
}

/** Where the `@` that `pattern` ends with is, matched at `at`; undefined if it does not match there. */
function passwordEnd(text: string, pattern: RegExp, at: number): number | undefined {
  pattern.lastIndex = at;
  return pattern.test(text) ? pattern.lastIndex - 1 : undefined;
}

/** Masks the value after every `key:` whose key names a credential (see COLON_KEY). */
function redactColonPairs(text: string): string {
  let out = "";
  let from = 0;
  COLON_KEY.lastIndex = 0;
  for (let pair = COLON_KEY.exec(text); pair !== null; pair = COLON_KEY.exec(text)) {
    if (!isRedactedField(pair[2] as string, NO_NAMES)) continue;
    const at = COLON_KEY.lastIndex;
    // Masked already (a header's value, by HEADER): taken as a bare value, it would stop at its `]`.
    if (text.startsWith(REDACTED, at)) continue;
    QUOTED.lastIndex = at;
    const quoted = QUOTED.exec(text);
    let end = QUOTED.lastIndex;
    if (quoted === null) {
      const bare = pair[1] !== "" ? BARE : LINE_VALUE;
      bare.lastIndex = at;
      if (!bare.test(text)) continue;
      end = bare.lastIndex;
      STANDS_ALONE.lastIndex = end;
      if (bare === LINE_VALUE && !STANDS_ALONE.test(text)) {
        // Words run on: an issue's message. A key inside this word would end where it does and is passed
        // over with it, so that a word of many `key:` is read once, not once per key; all but the key the
        // word ends in, whose own value comes next (`token: token: x`).
        COLON_KEY.lastIndex = lastKeyStart(text, at, end);
        continue;
      }
    }
    const quote = quoted === null ? "" : (quoted[0][0] as string);
    out += `${text.slice(from, at)}${quote}${REDACTED}${quote}`;
    from = end;
    COLON_KEY.lastIndex = from;
  }
  return from === 0 ? text : out + text.slice(from);
}

/**
 * Where the key a word ends in starts, when a colon follows it (`token:` in `token: token: x`, the message
 * of an issue at `token` that names its path again), so that its pair is judged; else `end`, past the word.
 * Only that last key is read again, backwards: a word of many keys is still read a bounded number of times.
 */
function lastKeyStart(text: string, at: number, end: number): number {
  const keyEnd = text[end - 1] === ":" ? end - 1 : end;
  COLON_AHEAD.lastIndex = keyEnd;
  if (!COLON_AHEAD.test(text)) return end;
  let start = keyEnd;
  while (start > at && KEY_CHAR.test(text[start - 1] as string)) start--;
  return start < keyEnd ? start : end;
}

const KEY_CHAR = /[\w-]/;

/** Masks the value of every key=value pair whose key names a credential (see KEY). */
function redactPairs(text: string): string {
  let out = "";
  let from = 0;
  KEY.lastIndex = 0;
  for (let pair = KEY.exec(text); pair !== null; pair = KEY.exec(text)) {
    if (!CREDENTIAL_KEY.test(pair[1] as string)) continue;
    VALUE.lastIndex = KEY.lastIndex;
    const value = VALUE.exec(text);
    if (value === null) continue;
    out += `${text.slice(from, KEY.lastIndex)}${REDACTED}`;
    // Past the value: a key inside it (an unclosed quote's rest) is the value's, not a pair of its own.
    from = VALUE.lastIndex;
    KEY.lastIndex = from;
  }
  return from === 0 ? text : out + text.slice(from);
}

/**
 * What a runtime's or a callback's failure (a fetch that could not connect, a body's read) may keep as
 * the cause of one of the library's errors: its name and message with credentials masked inside them
 * (see redactText), a string or number `code`, and its causes so too, 4 deep. Every other field is
 * dropped: Bun's network errors carry the whole URL as `path` (a token in its query included), HTTP
 * clients a `config` or `headers`, and `util.inspect`, `JSON.stringify` and error trackers show them all.
 * Undefined for what is no Error.
 */
export function redactedCause(error: unknown, depth = 0): Error | undefined {
  if (!(error instanceof Error) || depth > 3) return undefined;
  const plain = new Error(redactText(String(error.message)), { cause: redactedCause(error.cause, depth + 1) });
  plain.name = redactText(String(error.name));
  const code = (error as { code?: unknown }).code;
  if (typeof code === "string" || typeof code === "number") Object.assign(plain, { code });
  return plain;
}

/**
 * A copy of `value` fit to log: credential fields and those named in `names` (normalized) are replaced, text is scanned
 * for credentials, errors become `{ name, code, message }`, depth and cycles are bounded.
 */
/** Whether a field of this name is redacted: its normalized name contains a default word or equals a configured one. */
export function isRedactedField(key: string, names: ReadonlySet<string>): boolean {
  const name = normalizeFieldName(key);
  if (names.has(name)) return true;
  for (const word of DEFAULT_REDACTED_FIELDS) if (name.includes(word)) return true;
  return false;
}

export function redactValue(value: unknown, names: ReadonlySet<string>, depth = 0, seen = new Set<object>()): unknown {
  if (typeof value === "string") return redactText(value);
  if (typeof value !== "object" || value === null) {
    return typeof value === "bigint" ? value.toString() : typeof value === "function" ? undefined : value;
  }
  if (depth >= 8 || seen.has(value)) return "[elided]";
  seen.add(value);
  // What a handler threw may be a revoked or hostile Proxy: its reading throws, and the whole line was lost.
  try {
    return redactObject(value, names, depth, seen);
  } catch {
    return UNREADABLE;
  }
}

/** What a value whose reading throws is logged as. */
const UNREADABLE = "[unreadable]";

function redactObject(value: object, names: ReadonlySet<string>, depth: number, seen: Set<object>): unknown {
  if (value instanceof Error) return errorFields(value, names, depth, seen);
  if (value instanceof Date) return value.toISOString();
  if (Array.isArray(value)) return value.slice(0, 50).map((item) => redactValue(item, names, depth + 1, seen));
  const out: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) {
    setOwn(out, key, isRedactedField(key, names) ? REDACTED : redactValue(item, names, depth + 1, seen));
  }
  return out;
}

function errorFields(error: Error, names: ReadonlySet<string>, depth: number, seen: Set<object>): unknown {
  const code = (error as { code?: unknown }).code;
  // The name too: it opens the stack, masked below, and an error's name can be set to anything.
  const fields: Record<string, unknown> = { name: redactText(String(error.name)), message: redactText(error.message) };
  if (typeof code === "string") fields.code = code;
  if (error.stack !== undefined) fields.stack = redactText(error.stack);
  if (error.cause !== undefined) fields.cause = redactValue(error.cause, names, depth + 1, seen);
  return fields;
}
