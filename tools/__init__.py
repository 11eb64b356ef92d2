"""Build, grading and report tools of Lab 5 (run them with ``python3 -m tools``)."""
