"""What a browser would send for an HTML form: the named inputs, checked boxes and radios, and
selected options of the form with a given id (no JavaScript, no submit button)."""

from __future__ import annotations

from html.parser import HTMLParser

from werkzeug.datastructures import MultiDict

TEXT_TYPES = {"text", "hidden", "date", "color", "email", "search", "number", ""}


class _FormParser(HTMLParser):
    def __init__(self, form_id: str) -> None:
        super().__init__(convert_charrefs=True)
        self.form_id = form_id
        self.inside = False
        self.fields: MultiDict[str, str] = MultiDict()
        self.select: str | None = None
        self.options: list[tuple[str, bool]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = {name: value or "" for name, value in attrs}
        if tag == "form":
            self.inside = found.get("id") == self.form_id
        if not self.inside:
            return
        if tag == "input" and "name" in found:
            kind = found.get("type", "text")
            if kind in TEXT_TYPES or ("checked" in found and kind in ("checkbox", "radio")):
                self.fields.add(found["name"], found.get("value", "on"))
        elif tag == "select":
            self.select, self.options = found.get("name"), []
        elif tag == "option" and self.select is not None:
            self.options.append((found.get("value", ""), "selected" in found))

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self.inside = False
        elif tag == "select" and self.select is not None:
            chosen = [value for value, selected in self.options if selected]
            if chosen or self.options:
                self.fields.add(self.select, (chosen or [self.options[0][0]])[0])
            self.select = None


def form_fields(html: str, form_id: str) -> MultiDict[str, str]:
    """The fields the form `form_id` of `html` submits as it is shown."""
    parser = _FormParser(form_id)
    parser.feed(html)
    return parser.fields
