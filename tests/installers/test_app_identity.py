"""Name, version and icon the window title, taskbar and launcher show."""

from __future__ import annotations

from importlib.metadata import version

from PySide6.QtWidgets import QWidget

from app.ui.application import configure_application


def test_application_names_itself_with_icon_and_version(qapp, qtbot):
    configure_application(qapp)
    assert qapp.applicationName() == "CareDesk"
    assert qapp.applicationDisplayName() == "CareDesk"
    assert qapp.applicationVersion() == version("caredesk")
    # Linux taskbars and Wayland match the window to installers/linux/caredesk.desktop.
    assert qapp.desktopFileName() == "caredesk"
    assert not qapp.windowIcon().pixmap(48, 48).isNull()
    window = QWidget()
    qtbot.addWidget(window)
    window.setWindowTitle("Sign in")
    assert not window.windowIcon().pixmap(48, 48).isNull()
