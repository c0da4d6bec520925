// Chat text as segments to show: plain text, and http(s) links. The page builds DOM nodes from
// them (text nodes and <a> elements with textContent), so a message is never parsed as markup.

const URL_PATTERN = /\bhttps?:\/\/[^\s<>"'`]+/gi;
const TRAILING = /[.,;:!?)\]}'"]+$/;

/**
 * Split `text` into `{type: 'text', text}` and `{type: 'link', href, text}` segments, in order.
 * Only http: and https: URLs become links; punctuation right after a URL stays text.
 */
export function linkify(text) {
  const segments = [];
  let last = 0;
  for (const match of String(text).matchAll(URL_PATTERN)) {
    let candidate = match[0];
    const trailing = candidate.match(TRAILING);
    if (trailing) candidate = candidate.slice(0, -trailing[0].length);
    let href = null;
    try {
      const url = new URL(candidate);
      if (url.protocol === 'http:' || url.protocol === 'https:') href = url.href;
    } catch {
      href = null;
    }
    if (!href) continue;
    if (match.index > last) segments.push({ type: 'text', text: text.slice(last, match.index) });
    segments.push({ type: 'link', href, text: candidate });
    last = match.index + candidate.length;
  }
  if (last < text.length) segments.push({ type: 'text', text: text.slice(last) });
  return segments;
}

/** Append `text` to `node` as text nodes and links (target _blank, noopener). */
export function appendLinkified(node, text) {
  for (const segment of linkify(text)) {
    if (segment.type === 'text') {
      node.append(document.createTextNode(segment.text));
      continue;
    }
    const link = document.createElement('a');
    link.href = segment.href;
    link.textContent = segment.text;
    link.target = '_blank';
    link.rel = 'noopener noreferrer nofollow';
    node.append(link);
  }
}
