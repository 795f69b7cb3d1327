"""Optional dependencies: present ones are returned, a missing one is a one-line user error."""

from __future__ import annotations

import json

import pytest

from indievalue.errors import IndieValueError, require


def test_present_modules_are_returned_in_order() -> None:
    mod_json, mod_pytest = require("json", "pytest", purpose="x", install="y")
    assert mod_json is json and mod_pytest is pytest


def test_a_missing_module_says_what_needs_it_and_how_to_install() -> None:
    with pytest.raises(IndieValueError) as info:
        require("json", "no_such_module_indievalue", purpose="the widget",
                install="'indievalue[widget]'")
    message = str(info.value)
    assert message == ("the widget needs json and no_such_module_indievalue: "
                       "pip install 'indievalue[widget]'")
    assert "\n" not in message
