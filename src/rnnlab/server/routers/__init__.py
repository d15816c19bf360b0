"""One router per resource: health, visualizer, models, generation (pages and static files: static.py)."""
