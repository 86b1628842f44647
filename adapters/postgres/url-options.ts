import { ValidationError } from "../../src/index.js";

/** The values a URL's query gives `name`, read as postgres.js reads them (without parsing the rest of the URL). */
export function urlParameters(url: string, name: string): string[] {
  return queryOf(url).getAll(name);
}

/**
 * A URL's query as postgres.js reads it: its URL parser drops every tab, line feed and carriage
 * return first (the WHATWG URL rule), so `?eventflows.ten<tab>ant=…` names `eventflows.tenant`.
 */
function queryOf(url: string): URLSearchParams {
  const text = url.replace(/[\t\n\r]/g, "");
  const mark = text.indexOf("?");
  if (mark === -1) return new URLSearchParams();
  const end = text.indexOf("#", mark);
  return new URLSearchParams(text.slice(mark + 1, end === -1 ? undefined : end));
}

/**
 * The values a URL's query gives the server setting `name` (lower case), under a name in any case:
 * PostgreSQL reads a setting's name without regard to ASCII case, and postgres.js sends the query's
 * parameters it does not take itself as they are. `?EVENTFLOWS.TENANT=…` sets `eventflows.tenant`.
 */
export function urlSettingValues(url: string, name: string): string[] {
  return [...queryOf(url)].filter(([key]) => settingNameOf(key) === name).map(([, value]) => value);
}

/** The values `connection` (startup parameters) gives the server setting `name`, under a name in any case. */
export function connectionSettingValues(connection: unknown, name: string): unknown[] {
  if (typeof connection !== "object" || connection === null) return [];
  return Object.entries(connection)
    .filter(([key]) => settingNameOf(key) === name)
    .map(([, value]) => value);
}

/**
 * `connection` without the server setting `name` under any case of it: a value given for the setting
 * otherwise keeps its key's place among the startup parameters, and the server takes the last one sent.
 */
export function withoutSetting(connection: unknown, name: string): Record<string, unknown> {
  if (typeof connection !== "object" || connection === null) return {};
  return Object.fromEntries(Object.entries(connection).filter(([key]) => settingNameOf(key) !== name));
}

/** A setting's name as PostgreSQL compares it: ASCII letters folded to lower case, nothing else. */
function settingNameOf(key: string): string {
  return key.replace(/[A-Z]/g, (letter) => letter.toLowerCase());
}

/**
 * Why `url` is not a PostgreSQL URL, or undefined when it starts with `postgres://` or `postgresql://`
 * (in any case). postgres.js takes any scheme, and text with none for its defaults: a MySQL URL would be
 * tried as PostgreSQL and fail on the connection, or reach another server. The scheme is named only
 * when `//` follows it: in `user:password@host` what precedes the colon is the user name.
 */
export function schemeIssue(url: string): string | undefined {
  if (/^postgres(?:ql)?:\/\//i.test(url)) return undefined;
  const scheme = /^([a-z][a-z0-9+.-]{0,30}):\/\//i.exec(url)?.[1];
  return `not a PostgreSQL URL (${scheme === undefined ? "it has no scheme" : `its scheme is ${scheme.toLowerCase()}:`}): it must start with postgres:// or postgresql://`;
}

/**
 * Why `url` would be read with its user name as the host, or undefined. postgres.js ends the part
 * before the path at the first `/` or `?` (3.4, which parses as WHATWG URL does, at a `#` too), so
 * an unescaped one in a password of digits (`postgres://app:2024/pw@db/app`) made host `app`, port
 * 2024: connected there, with no password. An `@` past that end, before any query value, says so
 * (one in a value, `?user=app@server`, is not a password's). Said without the URL.
 */
export function hostPartIssue(url: string, hashEndsHost: boolean): string | undefined {
  const rest = url.slice(url.indexOf("://") + 3);
  const end = rest.search(hashEndsHost ? /[/?#]/ : /[/?]/);
  if (end === -1 || rest.slice(0, end).includes("@") || !rest.slice(end).split("=")[0]?.includes("@")) return undefined;
  return "an `@` follows the host part: percent-encode `/`, `?`, `#` and `@` in the user name and password";
}

/** The pool options a connection URL's query may set, each as postgres.js would read it. */
export interface UrlPoolOptions {
  max?: number;
  idle_timeout?: number;
  connect_timeout?: number;
}

/**
 * The longest timeout, in seconds, a URL may give: timers longer than 2^31 - 1 ms fire at once on
 * Node and Bun, so a longer `connect_timeout` would fail every statement that waits for a connection.
 */
const MAX_TIMEOUT_SECONDS = Math.floor((2 ** 31 - 1) / 1000);

/**
 * The `max`, `idle_timeout` and `connect_timeout` a URL's query sets (`?max=2&connect_timeout=3`),
 * validated, so that the client can pass them as options over its own defaults: postgres.js lets
 * options win over the query, so the defaults would otherwise hide them. postgres.js takes the last
 * value of a repeated parameter, and so does this. The timeouts are seconds as postgres.js reads
 * them (`1.5` too); `0`, `false` or `disable` turn one off, as they do in postgres.js. `max` is a
 * whole number of connections of at least 1 (postgres.js itself would make one connection of a
 * `?max=` of any value, since it does not turn that parameter into a number).
 * @throws {ValidationError} a value that is none of these; the message names the parameter, never the URL.
 */
export function poolOptionsFromUrl(url: string): UrlPoolOptions {
  const options: UrlPoolOptions = {};
  const max = urlParameters(url, "max").at(-1);
  if (max !== undefined) {
    const connections = /^\d+$/.test(max) ? Number(max) : Number.NaN;
    if (!Number.isSafeInteger(connections) || connections < 1) {
      throw refused("max", "max (in the URL) must be a whole number of connections of at least 1");
    }
    options.max = connections;
  }
  for (const name of ["idle_timeout", "connect_timeout"] as const) {
    const value = urlParameters(url, name).at(-1);
    if (value === undefined) continue;
    const seconds =
      value === "false" || value === "disable" ? 0 : /^(?:\d+\.?\d*|\.\d+)$/.test(value) ? Number(value) : Number.NaN;
    if (!(seconds >= 0 && seconds <= MAX_TIMEOUT_SECONDS)) {
      throw refused(
        name,
        `${name} (in the URL) must be a number of seconds from 0 to ${MAX_TIMEOUT_SECONDS} (0, false or disable: none)`,
      );
    }
    options[name] = seconds;
  }
  return options;
}

function refused(name: string, message: string): ValidationError {
  return new ValidationError("Invalid PostgreSQL client options", [{ path: [name], message }]);
}
