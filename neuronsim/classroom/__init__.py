"""Classroom tools: the stepper, the HTML walkthrough, plots, data sets, progress bars."""
