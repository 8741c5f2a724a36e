"""A mypy plugin that reads `Model.field` on a SQLModel table class as a SQL column, not its Python value.

SQLModel declares `status: str`, so to mypy `FollowUp.status == "open"` is a `bool`, `FollowUp.id.in_(…)` does not
exist and `select(FollowUp.id, …)` matches no overload — hundreds of false errors in every query. At run time the
class attribute is a SQLAlchemy `InstrumentedAttribute`; this plugin types class-level access to a field as `Any`
(what SQLAlchemy's own stubs would give through `col()`), so queries are checked like the rest of the code without
wrapping every column or ignoring files. Instance access (`row.status`) keeps its declared type.
"""

from __future__ import annotations

from collections.abc import Callable

from mypy.nodes import TypeInfo, Var
from mypy.plugin import AttributeContext, Plugin
from mypy.types import AnyType, Type, TypeOfAny

_SQLMODEL = "sqlmodel.main.SQLModel"


class SQLModelColumns(Plugin):
    def get_class_attribute_hook(self, fullname: str) -> Callable[[AttributeContext], Type] | None:
        owner, _, name = fullname.rpartition(".")
        node = self.lookup_fully_qualified(owner)
        if node is None or not isinstance(node.node, TypeInfo):
            return None
        info = node.node
        if not any(base.fullname == _SQLMODEL for base in info.mro[1:]):
            return None
        member = info.get(name)
        if member is None or not isinstance(member.node, Var) or name.startswith("__"):
            return None
        return _column


def _column(ctx: AttributeContext) -> Type:
    return AnyType(TypeOfAny.special_form)


def plugin(version: str) -> type[Plugin]:
    """The entry point mypy calls."""
    return SQLModelColumns
