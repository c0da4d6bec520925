"""The Simplified Chinese catalogue: complete, and the committed .mo matches the .po; the call
page's script finds every string it shows in meetings/call_strings.py, in both languages."""

from __future__ import annotations

import ast
import gettext
import re
from pathlib import Path

from django.conf import settings
from django.utils import translation

from meetings.call_strings import call_strings

LOCALE_DIR = Path(settings.BASE_DIR) / "locale" / "zh_Hans" / "LC_MESSAGES"
STATIC_SRC = Path(settings.BASE_DIR) / "static" / "src"


def _po_entries(path: Path) -> dict[str, tuple[str, str | None]]:
    """msgid -> (msgstr, msgid_plural) of a .po file; for plurals, msgstr is form [0]
    (Chinese has one plural form). No contexts are used by this project."""
    entries: dict[str, tuple[str, str | None]] = {}
    for block in path.read_text(encoding="utf-8").split("\n\n"):
        fields: dict[str, str] = {}
        current = None
        for line in block.splitlines():
            match = re.match(r'^(msgid|msgstr|msgstr\[0\]|msgctxt|msgid_plural)\s+(".*")$', line)
            if match:
                current = match.group(1).replace("[0]", "")
                fields[current] = ast.literal_eval(match.group(2))
            elif line.startswith('"') and current:
                fields[current] += ast.literal_eval(line)
        if fields.get("msgid"):
            entries[fields["msgid"]] = (fields.get("msgstr", ""), fields.get("msgid_plural"))
    return entries


def test_every_string_is_translated() -> None:
    """No empty or fuzzy entry in the Chinese .po, and placeholders are kept."""
    po = LOCALE_DIR / "django.po"
    entries = _po_entries(po)
    assert len(entries) > 100
    assert "#, fuzzy" not in po.read_text(encoding="utf-8")
    untranslated = [msgid for msgid, (msgstr, _) in entries.items() if not msgstr]
    assert untranslated == []
    for msgid, (msgstr, _) in entries.items():
        placeholders = re.compile(r"\{\w+\}|%\(\w+\)s")
        assert sorted(placeholders.findall(msgid)) == sorted(placeholders.findall(msgstr)), msgid


def test_compiled_catalogue_matches_the_po() -> None:
    """The committed .mo holds exactly the .po's translations (run compilemessages if not)."""
    entries = _po_entries(LOCALE_DIR / "django.po")
    with (LOCALE_DIR / "django.mo").open("rb") as handle:
        catalogue = gettext.GNUTranslations(handle)
    stale = [
        msgid
        for msgid, (msgstr, plural) in entries.items()
        if (catalogue.ngettext(msgid, plural, 1) if plural else catalogue.gettext(msgid)) != msgstr
    ]
    assert stale == []


def _script_keys() -> set[str]:
    """The string keys the call page's script can look up: dotted literals whose first part is
    one of call_strings()'s prefixes, the bare keys it uses, and the keys it builds: refused.<code>
    for every refusal close code of signaling.js (from protocol-codes.js),
    media.<problem>.<kind> for every MediaProblem."""
    prefixes = {key.split(".")[0] for key in call_strings() if "." in key}
    source = "\n".join(path.read_text(encoding="utf-8") for path in STATIC_SRC.rglob("*.js"))
    keys = {
        literal
        for literal in re.findall(r"'([A-Za-z]+\.[\w.-]+)'", source)
        if literal.split(".")[0] in prefixes
    }
    keys |= set(re.findall(r"\bt\('([A-Za-z]+)'", source))
    # The close codes signaling.js uses come from the generated protocol-codes.js.
    signaling = "\n".join((STATIC_SRC / "lib" / name).read_text(encoding="utf-8")
                          for name in ("signaling.js", "protocol-codes.js"))
    codes = {int(code) for code in re.findall(r"^\s+[A-Z_]+: (4[0-9]{3}),$", signaling, re.M)}
    keys |= {f"refused.{code}" for code in codes if 4400 <= code < 4500}
    media = (STATIC_SRC / "lib" / "media.js").read_text(encoding="utf-8")
    block = re.search(r"MediaProblem = Object\.freeze\(\{(.*?)\}\)", media, re.S)
    assert block, "MediaProblem not found in static/src/lib/media.js"
    problems = re.findall(r"'([a-z-]+)'", block.group(1))
    keys |= {f"media.{problem}.{kind}" for problem in problems for kind in ("audio", "video")}
    return keys


def test_call_script_strings_all_come_from_call_strings() -> None:
    """Every key the call page's script looks up (the server-restart notice and the 4429
    refusal among them) is in meetings/call_strings.py: the script has no other source."""
    keys = _script_keys()
    assert {"state.serverRestarting", "refused.4429", "state.joined", "media.denied.audio"} <= keys
    assert sorted(keys - set(call_strings())) == []


def test_call_strings_are_translated_to_chinese() -> None:
    """In zh-Hans every call string differs from its English text (the catalogue has it), and
    each keeps its {placeholders}."""
    with translation.override("en"):
        english = call_strings()
    with translation.override("zh-hans"):
        chinese = call_strings()
    assert chinese.keys() == english.keys()
    same = [key for key in english if chinese[key] == english[key]]
    assert same == []
    for key, text in english.items():
        assert sorted(re.findall(r"\{\w+\}", text)) == sorted(re.findall(r"\{\w+\}", chinese[key]))
    assert chinese["state.serverRestarting"] == "服务器正在重启，正在重新连接…"
