"""Reads finished sweep folders: intervals, sensitivity indices, figures, tables, ``report``."""
