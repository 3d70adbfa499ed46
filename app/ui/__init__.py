"""The PySide6 user interface: windows, dialogs, Qt models. Nothing outside app/ui imports Qt."""
