"""The editor's panel (`river panel`): PySide6 widgets over the bridge client; frames through PyAV."""
