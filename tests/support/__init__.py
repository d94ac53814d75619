"""Helpers shared by the test fixtures (real servers, no fakes)."""
