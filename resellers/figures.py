"""Figures that apps above this one add to the Resellers section, without this app knowing them.

`billing` adds its customers and `topup` its cards (from their `AppConfig.ready`), the way
apps register models with the admin. The Resellers section shows each figure per company in
the tree, and the move confirmation shows each figure's total for the subtree that moves.
"""

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Figure:
    label: str
    # reseller ids -> {reseller id: text shown in the tree}; ids missing show nothing
    per_reseller: Callable[[list[int]], dict[int, str]]
    # reseller ids (a whole subtree) -> text shown on the move confirmation
    total: Callable[[list[int]], str]


_figures: list[Figure] = []


def register(figure: Figure) -> None:
    if all(existing.label != figure.label for existing in _figures):
        _figures.append(figure)


def figures() -> list[Figure]:
    return list(_figures)
