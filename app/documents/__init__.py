"""Printed documents (reportlab PDFs) built from plain data objects; no Qt, no session."""
