"""Showing numbers: the one renderer of trace records (tables.render_records) in four formats,
number formatting, diagrams, notebook display."""
