"""Signaal: flags risk indicators in Dutch helpline chat text, without storing identities."""

__version__ = "0.1.0"
