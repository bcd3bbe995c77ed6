"""Loss names live in one place: ``config.LOSS_TERMS`` (the weight fields of ``LossConfig``). Every name
the losses and the training step read from the weights is one of them, and every one is computed."""

from __future__ import annotations

import ast
from pathlib import Path

from posesynth.config import LOSS_SETTINGS, LOSS_TERMS, LossConfig

PACKAGE = Path(__file__).resolve().parents[2] / "posesynth"
READERS = [PACKAGE / "losses" / "combine.py", PACKAGE / "losses" / "multiview_terms.py",
           PACKAGE / "training" / "train.py"]


def names_read(path: Path) -> set[str]:
    """String keys of ``weights.get("…")`` / ``weights["…"]`` and the terms set as ``terms["…"] = …``."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "get"
                and isinstance(node.func.value, ast.Name) and node.func.value.id == "weights"
                and node.args and isinstance(node.args[0], ast.Constant)):
            found.add(node.args[0].value)
        if (isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name)
                and node.value.id in ("weights", "terms") and isinstance(node.slice, ast.Constant)):
            found.add(node.slice.value)
    return found


def test_every_weight_field_is_a_term_or_a_setting():
    fields = [name for name in LossConfig.__dataclass_fields__]
    assert set(LOSS_SETTINGS) <= set(fields)
    assert list(LOSS_TERMS) == [name for name in fields if name not in LOSS_SETTINGS]


def test_the_losses_read_only_known_terms_and_compute_every_one():
    read = set().union(*(names_read(path) for path in READERS)) - {"total", "discriminator"}
    assert read - set(LOSS_TERMS) == set()
    assert set(LOSS_TERMS) - read == set()
