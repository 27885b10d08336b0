"""YAML without binary floats: ``0.95`` loads as ``Decimal("0.95")``.

Policy files hold money and ratios; a float would turn 0.07 into
0.07000000000000000666 before anything could round it. Dates stay text (``"2024-01-01"``) for the policy parser to check.
"""

from __future__ import annotations

from decimal import Decimal

import yaml


class ExactLoader(yaml.SafeLoader):
    """A SafeLoader whose floats are Decimals."""


def _decimal(loader: yaml.SafeLoader, node: yaml.Node) -> Decimal:
    assert isinstance(node, yaml.ScalarNode)
    text = str(loader.construct_scalar(node)).replace("_", "")
    return Decimal(text)


def _text(loader: yaml.SafeLoader, node: yaml.Node) -> str:
    assert isinstance(node, yaml.ScalarNode)
    return str(loader.construct_scalar(node))


ExactLoader.add_constructor("tag:yaml.org,2002:float", _decimal)
# dates stay text: the policy parser turns them into dates and names the path of a bad one
ExactLoader.add_constructor("tag:yaml.org,2002:timestamp", _text)


def load_yaml(text: str) -> object:
    return yaml.load(text, Loader=ExactLoader)
