"""Measurement: estimation, psychometrics, the profile battery and its reports."""
