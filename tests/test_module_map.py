"""`bot/__init__.py`'s map names every module of `bot/`, so a newcomer can find where a thing lives."""

import re
from pathlib import Path

import bot


def test_the_package_map_names_every_module_of_bot():
    here = Path(bot.__file__).parent
    modules = {p.stem for p in here.glob("*.py") if p.stem != "__init__"}
    modules |= {p.name for p in here.iterdir() if (p / "__init__.py").exists()}
    unnamed = [m for m in sorted(modules) if not re.search(rf"(^|\s){m}\s", bot.__doc__, re.M)]
    assert unnamed == []
