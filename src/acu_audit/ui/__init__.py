"""The triage page (``acu-audit ui``): the review queue in a browser, every action audited."""
