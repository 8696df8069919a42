"""Test oracles and tiny fixtures shared by the tests and the speed scripts; not part of the installed package."""
