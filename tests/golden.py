"""Golden files: one switch rewrites them all (`NPSBOT_UPDATE_GOLDEN=1 pytest …`)."""

import json
import os
from pathlib import Path

GOLDEN = Path(__file__).parent / "golden"


def as_json(value) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True) + "\n"


def assert_golden(path: Path, text: str) -> None:
    """Compare `text` with the file; write it first when asked to, or when the file is new.

    In CI (`CI` set, as CI services do) a missing file fails: a golden file written by the run
    that checks it would pass whatever the renderer produced.
    """
    if not path.exists() and os.environ.get("CI") and os.environ.get("NPSBOT_UPDATE_GOLDEN") != "1":
        raise AssertionError(f"{path} is missing; run NPSBOT_UPDATE_GOLDEN=1 pytest locally, review it and "
                             "commit it")
    if os.environ.get("NPSBOT_UPDATE_GOLDEN") == "1" or not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert text == path.read_text(encoding="utf-8"), f"{path} differs; NPSBOT_UPDATE_GOLDEN=1 accepts the change"
