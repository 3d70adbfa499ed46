"""CareDesk benchmarks: ``python -m bench NAME [--db PATH] [--json]`` (see DESIGN.md)."""
