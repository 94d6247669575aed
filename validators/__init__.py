"""The checks: one module per family (format, length, duplicates, content...)."""
