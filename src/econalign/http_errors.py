"""Short messages for requests the HTTP servers refuse: which field and what is wrong, never the input.

FastAPI's own 422 echoes every bad value, so a 10 MB field came back as a 10 MB answer, and a value
JSON cannot encode (NaN, a lone surrogate) turned the refusal itself into a 500.
"""

from __future__ import annotations

from fastapi.exceptions import RequestValidationError

MAX_CHARS = 100  # of a field path or message: paths hold the body's own keys, which may be huge


def invalid_field(exc: RequestValidationError) -> tuple[str | None, str]:
    """The first problem's field, as a dotted path in the body (`messages.0.content`; None for the
    body itself), and what is wrong with it."""
    error = exc.errors()[0]
    if error["type"] == "json_invalid":  # FastAPI's own error: loc is ("body", character position)
        return None, f"the body is not valid JSON: {error['ctx']['error']} at character {error['loc'][-1]}"
    path = ".".join(map(str, error["loc"][1:]))  # loc[0] is "body"
    return path[:MAX_CHARS] or None, error["msg"][:MAX_CHARS]


def unicode_text(value: str | list[str] | None) -> str | list[str] | None:
    """A pydantic validator for a text field (or a list of texts): JSON may carry lone surrogates
    ("\\ud800"), which no tokenizer takes and no JSON answer can hold."""
    for text in [value] if isinstance(value, str) else value or []:
        try:
            text.encode()
        except UnicodeEncodeError:
            raise ValueError("the text is not valid Unicode (it holds a lone surrogate)") from None
    return value
