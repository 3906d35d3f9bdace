"""One exception for every input problem the user can cause (a bad upload, an impossible setting).

The engine never writes user-facing prose: it raises `InputError(key, **params)` and the UI
translates `errors.<key>` into the user's language, filling in the params.
"""


class InputError(ValueError):
    """Bad input from the user; `key` names the message, `params` fill its placeholders."""

    def __init__(self, key: str, **params: object) -> None:
        super().__init__(f"{key}: {params}" if params else key)
        self.key = key
        self.params = params
