"""Request and response schemas, one module per resource; ``limits`` holds every input range."""
