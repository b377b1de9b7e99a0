"""OpenTimelineIO on the host side: read the editor's timeline, relink its media as the NLE would
(``relink``, and the ``river_relink`` media linker registered in ``plugin_manifest.json`` through the
``opentimelineio.plugins`` entry point), and write edits back as timelines any NLE imports.
"""
