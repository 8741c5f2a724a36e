"""A mypy plugin that reads `Model.field` on a SQLModel table class as a SQL column, not its Python value.

SQLModel declares `status: str`, so to mypy `FollowUp.status == "open"` is a `bool`, `FollowUp.id.in_(…)` does not
exist and `select(FollowUp.id, …)` matches no overload — hundreds of false errors in every query. At run time the
class attribute is a SQLAlchemy `InstrumentedAttribute`; this plugin types class-level access to a field as `Any`
(what SQLAlchemy's own stubs would give through `col()`), so queries are checked like the rest of the code without
wrapping every column or ignoring files. Instance access (`row.status`) keeps its declared type, except a primary
key: SQLModel declares `id: int | None` because a row has none before it is inserted, but every row the code reads
or flushes has one, so `row.id` is an `int`. And `session.execute(update(…))` is the `CursorResult` it is at run time
(SQLModel's `Session.execute` is declared to return a plain `Result`, which has no `rowcount`).
"""

from __future__ import annotations

from collections.abc import Callable

from mypy.nodes import TypeInfo, Var
from mypy.plugin import AttributeContext, MethodContext, Plugin
from mypy.types import AnyType, Instance, NoneType, Type, TypeOfAny, UnionType, get_proper_type

_SQLMODEL = "sqlmodel.main.SQLModel"
_EXECUTE = {"sqlmodel.orm.session.Session.execute", "sqlalchemy.orm.session.Session.execute"}
_DML = {"sqlalchemy.sql.dml.Update", "sqlalchemy.sql.dml.Delete", "sqlalchemy.sql.dml.Insert",
        "sqlalchemy.dialects.sqlite.dml.Insert", "sqlalchemy.dialects.postgresql.dml.Insert"}
_CURSOR_RESULT = "sqlalchemy.engine.cursor.CursorResult"


class SQLModelColumns(Plugin):
    def get_attribute_hook(self, fullname: str) -> Callable[[AttributeContext], Type] | None:
        owner, _, name = fullname.rpartition(".")
        return _stored_key if name == "id" and self._is_model(owner) else None

    def get_method_hook(self, fullname: str) -> Callable[[MethodContext], Type] | None:
        return self._cursor_result if fullname in _EXECUTE else None

    def _cursor_result(self, ctx: MethodContext) -> Type:
        statement = get_proper_type(ctx.arg_types[0][0]) if ctx.arg_types and ctx.arg_types[0] else None
        node = self.lookup_fully_qualified(_CURSOR_RESULT)
        if not (isinstance(statement, Instance) and statement.type.fullname in _DML
                and node is not None and isinstance(node.node, TypeInfo)):
            return ctx.default_return_type
        return Instance(node.node, [AnyType(TypeOfAny.special_form)] * len(node.node.defn.type_vars))

    def _is_model(self, fullname: str) -> bool:
        node = self.lookup_fully_qualified(fullname)
        return (node is not None and isinstance(node.node, TypeInfo)
                and any(base.fullname == _SQLMODEL for base in node.node.mro[1:]))

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


def _stored_key(ctx: AttributeContext) -> Type:
    declared = get_proper_type(ctx.default_attr_type)
    if isinstance(declared, UnionType):
        return UnionType.make_union([t for t in declared.items if not isinstance(get_proper_type(t), NoneType)])
    return ctx.default_attr_type


def _column(ctx: AttributeContext) -> Type:
    return AnyType(TypeOfAny.special_form)


def plugin(version: str) -> type[Plugin]:
    """The entry point mypy calls."""
    return SQLModelColumns
