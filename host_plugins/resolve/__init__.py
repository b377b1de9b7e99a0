"""DaVinci Resolve: edit the selected clips from inside Resolve (Studio scripting), or by a timeline file
round trip (the free edition).

Host side only (the bridge client and OpenTimelineIO; no torch, no numpy). Nothing here touches Resolve
at import time: every function takes the ``resolve`` object (from :func:`connect.find_resolve`, or the
one a script running inside Resolve already has) as a parameter.
"""
