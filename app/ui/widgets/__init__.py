"""Reusable widgets shared by several windows."""
