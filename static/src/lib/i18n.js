// Strings come translated from the server (meetings/call_strings.py, embedded with
// json_script); this only looks them up and fills in {placeholders}.

let strings = {};

/** Install the page's translated strings. */
export function setStrings(table) {
  strings = table ?? {};
}

/** The string for `key` with `{name}` placeholders replaced; the key itself if missing. */
export function t(key, params = {}) {
  const template = strings[key] ?? key;
  return template.replace(/\{(\w+)\}/g, (match, name) =>
    Object.prototype.hasOwnProperty.call(params, name) ? String(params[name]) : match,
  );
}
