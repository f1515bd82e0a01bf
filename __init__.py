"""Signaal: flags risk indicators in Dutch helpline chat text, without storing identities."""

__version__ = "0.1.0"


def __getattr__(name: str):
    # Lazy public API: `from signaal import Analyzer` without loading spaCy on `import signaal`.
    if name in ("Analyzer", "Conversation"):
        from signaal.signals import pipeline

        return getattr(pipeline, name)
    raise AttributeError(name)
