"""The Simplified Chinese catalogue: complete, and the committed .mo matches the .po."""

from __future__ import annotations

import ast
import gettext
import re
from pathlib import Path

from django.conf import settings

LOCALE_DIR = Path(settings.BASE_DIR) / "locale" / "zh_Hans" / "LC_MESSAGES"


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
