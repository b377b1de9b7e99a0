"""The editor's panel (`river panel`): a PySide6 window beside the NLE — query, explain and confirm,
job queue, before/after. Install with the ``panel`` extra; every bridge call runs off the UI thread."""
