"""Checks on what authors write, run when a step is saved (never discovered at send time): template
syntax and unknown merge fields."""
from __future__ import annotations

from jinja2 import TemplateSyntaxError, meta, nodes

from app.domain.contacts.rules import CONTACT_FIELDS
from app.domain.messages.rendering import sandbox


def check_template(source: str, where: str, first_line: int = 1) -> list[str]:
    """Syntax errors as 'where:line: message', with lines counted in the file the source came from."""
    try:
        sandbox().parse(source)
    except TemplateSyntaxError as exc:
        return [f"{where}:{exc.lineno + first_line - 1}: {exc.message}"]
    return []


MERGE_NAMES = {"contact", "persona", "segment"}


def check_variables(source: str, where: str, first_line: int = 1) -> list[str]:
    """Unknown merge fields are refused when a step is saved, never discovered at send time."""
    try:
        tree = sandbox().parse(source)
    except TemplateSyntaxError:
        return []  # reported by check_template
    unknown = meta.find_undeclared_variables(tree) - MERGE_NAMES
    first_use = {}
    for name_node in tree.find_all(nodes.Name):
        if name_node.name in unknown:
            first_use.setdefault(name_node.name, name_node.lineno)
    problems = [f"{where}:{first_use.get(name, 1) + first_line - 1}: unknown variable {name!r} "
                f"(use contact.<field>, persona or segment)" for name in sorted(unknown)]
    for node in tree.find_all((nodes.Getattr, nodes.Getitem)):
        if isinstance(node.node, nodes.Name) and node.node.name == "contact":
            attr = node.attr if isinstance(node, nodes.Getattr) else getattr(node.arg, "value", None)
            if attr not in CONTACT_FIELDS and attr != "fields":
                problems.append(f"{where}:{node.lineno + first_line - 1}: unknown field contact.{attr} "
                                f"(known: {', '.join(CONTACT_FIELDS)}, fields.<custom>)")
    return problems
