"""Showing numbers: tables in four formats, number formatting, diagrams, notebook display."""
