"""Tests of pytest-unixipc itself: pytester runs whole pytest sessions."""

pytest_plugins = ["pytester"]
