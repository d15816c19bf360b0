"""rnnlab.server: the local web app (FastAPI). ``create_app(settings)`` builds it; ``rnnlab serve`` runs it."""
