"""Consumers of the typed IR: code generators (pytorch, keras), the diagram (dot), the printer (arch)."""
