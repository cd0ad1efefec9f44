"""Every setting carries a description: it is what `--help`, the README and errors show."""

from pydantic import BaseModel

from openvna.settings import Settings


def _fields(model: type[BaseModel], prefix: str = "") -> list[tuple[str, object]]:
    found = []
    for name, info in model.model_fields.items():
        found.append((prefix + name, info.description))
        annotation = info.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            found.extend(_fields(annotation, f"{prefix}{name}."))
    return found


def test_every_setting_is_described() -> None:
    fields = _fields(Settings)
    assert len(fields) > 10
    undocumented = [name for name, description in fields if not description]
    assert undocumented == []
